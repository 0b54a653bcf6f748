import type { Fragment, Sql, TransactionSql } from 'postgres';
import { isUuid } from '../machines/ids.ts';
import { upsertApprovals } from './postgres-approvals.ts';
import { type BlobMemory, hydrateRows, insertBlobs, RunBlobs } from './postgres-blobs.ts';
import { guard, sqlState } from './postgres-errors.ts';
import { decodeCursor, keysetPage } from './postgres-paging.ts';
import { reviewerMayDecide } from './postgres-reviewers.ts';
import type { EventDbRow, RunDbRow } from './postgres-rows.ts';
import { eventColumns, json, jsonb, toEventRow, toRunRecord } from './postgres-rows.ts';
import { syncTimers } from './postgres-timers.ts';
import type { ApprovalRow, CommitInput, EventRow, RunFilter, RunStore } from './types.ts';
import { StoreError } from './types.ts';

const RUN_COLUMNS = (sql: Sql) => sql`
  r.run_id, r.seq, r.status, r.current_step, r.user_id, r.session_id, r.created_by, r.envelope, r.view,
  r.created_at, r.updated_at, r.owner, r.lease_until
`;

/** `now() + ms` as SQL: leases are measured on the database clock, the one all nodes share. */
const leaseEnd = (tx: Sql | TransactionSql, ms: number) =>
  tx`now() + ${ms}::double precision * interval '1 millisecond'`;

async function insertEvents(tx: TransactionSql, events: EventRow[], blobs: RunBlobs): Promise<void> {
  if (events.length === 0) return;
  const rows = events.map((e) => eventColumns(e, jsonb(tx, blobs.put(e.payload))));
  await tx`insert into run_events ${tx(rows)}`;
}

function checkNumbering(runId: string, firstSeq: number, events: EventRow[]): void {
  events.forEach((e, i) => {
    if (e.run_id !== runId || e.seq !== firstSeq + i) {
      throw new Error(`event ${i} must have run_id ${runId} and seq ${firstSeq + i}`);
    }
  });
}

/** Explains a commit whose guarded UPDATE matched no row. */
async function whyRefused(tx: TransactionSql, change: CommitInput): Promise<StoreError> {
  const [row] = await tx<{ seq: number; owner: string | null; lease_until: Date | null }[]>`
    select seq, owner, lease_until from runs where run_id = ${change.run_id}
  `;
  if (row === undefined) return new StoreError('not_found', `run ${change.run_id} not found`);
  if (row.seq !== change.expected_seq) {
    return new StoreError(
      'seq_conflict',
      `run ${change.run_id} is at seq ${row.seq}, the change was computed from ${change.expected_seq}`,
    );
  }
  const until = row.lease_until?.toISOString() ?? 'unknown';
  return new StoreError('lease_held', `run ${change.run_id} is leased by ${row.owner} until ${until}`);
}

/** A duplicate key while writing a run means another writer got there first. */
function asSeqConflict(err: unknown, runId: string): unknown {
  return sqlState(err) === '23505'
    ? new StoreError('seq_conflict', `run ${runId} was written concurrently`)
    : err;
}

function runConditions(sql: Sql, filter: RunFilter): Fragment {
  const conds: Fragment[] = [sql`true`];
  if (filter.user_id !== undefined) conds.push(sql`r.user_id = ${filter.user_id}`);
  if (filter.session_id !== undefined) conds.push(sql`r.session_id = ${filter.session_id}`);
  if (filter.statuses !== undefined) conds.push(sql`r.status = any(${filter.statuses}::text[])`);
  const reader = filter.readable_by;
  if (reader !== undefined && !reader.roles.includes('admin')) {
    // Readers are the run's end user and whoever may decide one of its approvals (any status,
    // so a reviewer keeps access to a run after answering it).
    conds.push(sql`(r.user_id = ${reader.sub} or exists (
      select 1 from approvals a
       where a.run_id = r.run_id and a.envelope is null and ${reviewerMayDecide(sql, reader)}))`);
  }
  return conds.reduce((acc, c) => sql`${acc} and ${c}`);
}

/** The run half of `RunStore`. */
export function createRunOps(
  sql: Sql,
  memory: BlobMemory,
): Pick<
  RunStore,
  | 'createRun'
  | 'commit'
  | 'getRun'
  | 'currentSeqs'
  | 'listEvents'
  | 'listRuns'
  | 'expiredLeases'
  | 'renewLeases'
> {
  /**
   * One run's write in its own transaction: `write` (with the run's blobs), then the approvals and
   * the blobs it referenced. The blobs count as written once it commits; a duplicate key is a
   * concurrent writer (`seq_conflict`).
   */
  async function writeRun(
    runId: string,
    approvals: ApprovalRow[],
    write: (tx: TransactionSql, blobs: RunBlobs) => Promise<void>,
  ): Promise<void> {
    const blobs = new RunBlobs(runId, memory);
    await sql
      .begin(async (tx) => {
        await write(tx, blobs);
        await upsertApprovals(tx, approvals, blobs);
        await insertBlobs(tx, blobs.rows());
      })
      .then(() => blobs.committed())
      .catch((err: unknown) => {
        throw asSeqConflict(err, runId);
      });
  }

  return {
    createRun: (run) =>
      guard('createRun', async () => {
        const r = run.record;
        checkNumbering(r.run_id, 1, run.events);
        if (r.seq !== run.events.length) throw new Error(`record.seq must be ${run.events.length}`);
        await writeRun(r.run_id, run.approvals, async (tx, blobs) => {
          await tx`
              insert into runs (run_id, seq, status, current_step, user_id, session_id, created_by,
                                envelope, view, work_pending, owner, lease_until, created_at, updated_at)
              values (${r.run_id}, ${r.seq}, ${r.status}, ${r.current_step}, ${r.user_id ?? null},
                      ${r.session_id ?? null}, ${r.created_by}, ${json(tx, blobs.put(r.envelope))}, ${json(tx, blobs.put(r.view))},
                      ${run.work_pending}, ${run.owner}, ${leaseEnd(tx, run.lease_ms)},
                      ${r.created_at}, ${r.updated_at})
            `;
          await insertEvents(tx, run.events, blobs);
          await syncTimers(tx, r.run_id, r.run_id, run.timers);
        });
      }),

    commit: (change) =>
      guard('commit', async () => {
        if (!isUuid(change.run_id)) throw new StoreError('not_found', `run ${change.run_id} not found`);
        checkNumbering(change.run_id, change.expected_seq + 1, change.events);
        const lease = change.require_lease_expired
          ? sql`and (lease_until is null or lease_until < now() or owner = ${change.owner})`
          : sql``;
        await writeRun(change.run_id, change.approvals, async (tx, blobs) => {
          // The row lock taken here serialises racing commits; the loser re-reads seq and misses.
          const updated = await tx`
              update runs
                 set seq = ${change.expected_seq + change.events.length},
                     status = ${change.status},
                     current_step = ${change.current_step},
                     envelope = ${json(tx, blobs.put(change.envelope))},
                     view = ${json(tx, blobs.put(change.view))},
                     work_pending = ${change.work_pending},
                     owner = ${change.owner},
                     lease_until = ${leaseEnd(tx, change.lease_ms)},
                     updated_at = ${change.updated_at}
               where run_id = ${change.run_id} and seq = ${change.expected_seq} ${lease}
              returning run_id
            `;
          if (updated.length === 0) throw await whyRefused(tx, change);
          await insertEvents(tx, change.events, blobs);
          if (change.timers_changed !== false)
            await syncTimers(tx, change.run_id, change.run_id, change.timers);
          for (const w of change.work ?? []) {
            await tx`
                insert into timers (owner_id, run_id, kind, key, fire_at)
                values (${change.run_id}, ${change.run_id}, ${w.kind}, ${w.key}, ${w.fire_at})
                on conflict (owner_id, kind, key) do nothing
              `;
          }
          const done = (change.work_done ?? []).filter((t) => /^[0-9]{1,18}$/.test(t));
          if (done.length > 0)
            await tx`delete from timers where owner_id = ${change.run_id} and id = any(${done}::bigint[])`;
        });
      }),

    getRun: (runId) =>
      guard('getRun', async () => {
        if (!isUuid(runId)) return null;
        const [row] = await sql<RunDbRow[]>`select ${RUN_COLUMNS(sql)} from runs r where r.run_id = ${runId}`;
        if (row === undefined) return null;
        await hydrateRows(sql, [row], ['envelope', 'view']);
        return toRunRecord(row);
      }),

    currentSeqs: (runIds) =>
      guard('currentSeqs', async () => {
        const ids = runIds.filter(isUuid);
        if (ids.length === 0) return new Map();
        // The ids through a one-row subquery: with `any($1)` Postgres planned the probe again on
        // every call (a custom plan for a known array looks cheaper than the generic plan's guess
        // of ten), planning took twice its run time; this way both plans guess alike and the
        // generic one is kept after the fifth call.
        const rows = await sql<{ run_id: string; seq: number }[]>`
          select run_id::text as run_id, seq from runs where run_id = any((select ${ids}::uuid[])::uuid[])
        `;
        return new Map(rows.map((r) => [r.run_id, r.seq]));
      }),

    listEvents: (runId, afterSeq, limit) =>
      guard('listEvents', async () => {
        if (!isUuid(runId)) return [];
        const rows = await sql<EventDbRow[]>`
          select run_id, seq, type, step, status, actor, message, payload, derived, created_at
            from run_events
           where run_id = ${runId} and seq > ${afterSeq}
           order by seq
           limit ${limit}
        `;
        await hydrateRows(sql, rows, ['payload']);
        return rows.map(toEventRow);
      }),

    listRuns: (filter, limit, cursor) =>
      guard('listRuns', async () => {
        const where = runConditions(sql, filter);
        const after = cursor === null ? null : decodeCursor(cursor);
        const query = { table: 'runs', alias: 'r', id: 'run_id', columns: RUN_COLUMNS(sql), where } as const;
        return keysetPage(sql, query, { limit, after }, toRunRecord, (rows) =>
          hydrateRows(sql, rows, ['envelope', 'view']),
        );
      }),

    expiredLeases: (limit) =>
      guard('expiredLeases', async () => {
        const rows = await sql<{ run_id: string }[]>`
          select run_id from runs
           where work_pending and (lease_until < now() or lease_until is null)
           order by lease_until nulls first
           limit ${limit}
        `;
        return rows.map((r) => r.run_id);
      }),

    renewLeases: (owner, runIds, leaseMs) =>
      guard('renewLeases', async () => {
        const ids = runIds.filter(isUuid);
        if (ids.length === 0) return;
        // A row a group commit has locked is skipped, not waited for: that commit renews its
        // lease itself, and waiting made a cycle with it when the two locked rows in a different
        // order (Postgres then aborted one of them after deadlock_timeout, a second of stall).
        await sql`
          update runs set lease_until = ${leaseEnd(sql, leaseMs)}
           where run_id in (
             select run_id from runs
              where run_id = any(${ids}::uuid[]) and owner = ${owner}
              for update skip locked)
        `;
      }),
  };
}
