import type { Sql } from 'postgres';
import { jsonOnce } from './json-once.ts';
import { storedApproval } from './postgres-approvals.ts';
import { type BlobMemory, type BlobRow, RunBlobs } from './postgres-blobs.ts';
import { guard, isConnectionError, sqlState } from './postgres-errors.ts';
import { eventColumns } from './postgres-rows.ts';
import type { BatchItem, CommitInput, NewRun } from './types.ts';
import { StoreError } from './types.ts';

/**
 * Group commit (SPEC §8 "Commit model"): the commits of many runs in ONE statement, so one round
 * trip and one fsync. Data-modifying CTEs all see one snapshot; the guarded `update runs` (and the
 * `insert … on conflict do nothing` of new runs) return the runs that passed their `(run_id, seq)`
 * guard and lease, and only those runs' events, timers and approvals are written. A run the guard
 * refused changes nothing and fails no other run. Long strings (a large input) are written once per
 * run to `run_blobs` and referenced (`persistence/blobs.ts`).
 */
const BATCH_SQL = `
with
-- The JSON values (envelopes, views, event payloads, approvals) outside the JSON records that
-- point at them: Postgres then reads each once, as its column's input, instead of lexing it within
-- the records too (every string of it unescaped, to be thrown away). JSON text never holds a raw
-- U+001E (JSON.stringify escapes every control character), so it separates them.
big as (select string_to_array($11::text, E'\\x1e') as t),
cin as (
  select * from json_to_recordset($1::text::json) as x(
    run_id uuid, seq int, status text, current_step text, user_id text, session_id text,
    created_by text, envelope int, view int, work_pending boolean, owner text, lease_ms float8,
    created_at timestamptz, updated_at timestamptz)),
uin as (
  select * from json_to_recordset($2::text::json) as x(
    run_id uuid, expected_seq int, seq int, status text, current_step text, envelope int,
    view int, work_pending boolean, owner text, lease_ms float8, updated_at timestamptz,
    takeover boolean)),
ins as (
  insert into runs (run_id, seq, status, current_step, user_id, session_id, created_by, envelope,
                    view, work_pending, owner, lease_until, created_at, updated_at)
  select run_id, seq, status, current_step, user_id, session_id, created_by,
         (select t[envelope] from big)::json, (select t[view] from big)::json,
         work_pending, owner, now() + lease_ms * interval '1 millisecond', created_at, updated_at
    from cin
  on conflict (run_id) do nothing
  returning run_id),
upd as (
  update runs r
     set seq = u.seq, status = u.status, current_step = u.current_step,
         envelope = (select t[u.envelope] from big)::json, view = (select t[u.view] from big)::json,
         work_pending = u.work_pending, owner = u.owner,
         lease_until = now() + u.lease_ms * interval '1 millisecond', updated_at = u.updated_at
    from uin u
   where r.run_id = u.run_id and r.seq = u.expected_seq
     -- The ids again as an array: the planner then finds the rows by primary key (with only the
     -- join it hashes a sequential scan of the whole table, whose cost grows with every run).
     and r.run_id = any($10::text[]::uuid[])
     and (not u.takeover or r.lease_until is null or r.lease_until < now() or r.owner = u.owner)
  returning r.run_id),
done as (select run_id from ins union all select run_id from upd),
ev as (
  insert into run_events (run_id, seq, type, step, status, actor, message, payload, derived, created_at)
  select e.run_id, e.seq, e.type, e.step, e.status, e.actor, e.message,
         (select t[e.payload] from big)::jsonb, e.derived, e.created_at
    from json_to_recordset($3::text::json) as e(
      run_id uuid, seq int, type text, step text, status text, actor text, message text,
      payload int, derived boolean, created_at timestamptz)
   where e.run_id in (select run_id from done)),
tw as (
  select * from json_to_recordset($4::text::json) as t(owner_id uuid, kind text, key text, fire_at timestamptz)),
tsync as (select run_id from done where run_id = any($5::text[]::uuid[])),
tdel as (
  delete from timers t
   -- The array again so that timers are found by owner (as the update above finds runs).
   where t.owner_id = any($5::text[]::uuid[]) and t.owner_id in (select run_id from tsync)
     and t.kind <> 'cancel'
     and not exists (select 1 from tw where tw.owner_id = t.owner_id and tw.kind = t.kind and tw.key = t.key)),
tins as (
  insert into timers (owner_id, run_id, kind, key, fire_at)
  select tw.owner_id, tw.owner_id, tw.kind, tw.key, tw.fire_at from tw
   where tw.owner_id in (select run_id from tsync)
  on conflict (owner_id, kind, key) do nothing),
wins as (
  insert into timers (owner_id, run_id, kind, key, fire_at)
  select w.owner_id, w.owner_id, w.kind, w.key, w.fire_at
    from json_to_recordset($7::text::json) as w(owner_id uuid, kind text, key text, fire_at timestamptz)
   where w.owner_id in (select run_id from done)
  on conflict (owner_id, kind, key) do nothing),
wdel as (
  delete from timers t
   where t.id = any($8::text[]::bigint[]) and t.owner_id in (select run_id from done)),
ap as (
  insert into approvals (approval_id, run_id, status, checkpoint_type, user_id, session_id, created_by,
                         created_at, expires_at, approval, envelope, version)
  select a.approval_id, a.run_id, a.status, a.checkpoint_type, a.user_id, a.session_id, a.created_by,
         a.created_at, a.expires_at, (select t[a.approval] from big)::jsonb, null, a.version
    from json_to_recordset($6::text::json) as a(
      approval_id uuid, run_id uuid, status text, checkpoint_type text, user_id text, session_id text,
      created_by text, created_at timestamptz, expires_at timestamptz, approval int, version int)
   where a.run_id in (select run_id from done)
  on conflict (approval_id) do update
     set run_id = excluded.run_id, status = excluded.status, checkpoint_type = excluded.checkpoint_type,
         user_id = excluded.user_id, session_id = excluded.session_id, created_by = excluded.created_by,
         created_at = excluded.created_at, expires_at = excluded.expires_at, approval = excluded.approval,
         envelope = excluded.envelope, version = excluded.version),
bl as (
  insert into run_blobs (run_id, sha256, body)
  select b.run_id, b.sha256, b.body
    from json_to_recordset($9::text::json) as b(run_id uuid, sha256 text, body text)
   where b.run_id in (select run_id from done)
  on conflict (run_id, sha256) do nothing)
select run_id::text as run_id from done
`;

function checkNumbering(
  runId: string,
  firstSeq: number,
  item: { events: { run_id: string; seq: number }[] },
) {
  item.events.forEach((e, i) => {
    if (e.run_id !== runId || e.seq !== firstSeq + i) {
      throw new Error(`event ${i} must have run_id ${runId} and seq ${firstSeq + i}`);
    }
  });
}

/**
 * The JSON values of a batch, joined by U+001E (`$11`); the records hold their 1-based positions.
 * The envelopes' texts are kept (`jsonOnce`): the cache entries written after the batch reuse them.
 */
class BigValues {
  private readonly texts: string[] = [];
  /** The position of `text`, already JSON. */
  add(text: string): number {
    return this.texts.push(text);
  }
  /** The position of `value`'s JSON; null (SQL NULL, as a field left out) when it has none. */
  json(value: unknown): number | null {
    const text: string | undefined = JSON.stringify(value);
    return text === undefined ? null : this.add(text);
  }
  joined(): string {
    return this.texts.join('\u001e');
  }
}

const createRow = (n: NewRun, blobs: RunBlobs, big: BigValues) => {
  const r = n.record;
  checkNumbering(r.run_id, 1, n);
  if (r.seq !== n.events.length) throw new Error(`record.seq must be ${n.events.length}`);
  return {
    run_id: r.run_id,
    seq: r.seq,
    status: r.status,
    current_step: r.current_step,
    user_id: r.user_id ?? null,
    session_id: r.session_id ?? null,
    created_by: r.created_by,
    envelope: big.add(jsonOnce(blobs.put(r.envelope))),
    view: big.json(blobs.put(r.view)),
    work_pending: n.work_pending,
    owner: n.owner,
    lease_ms: n.lease_ms,
    created_at: r.created_at,
    updated_at: r.updated_at,
  };
};

const updateRow = (c: CommitInput, blobs: RunBlobs, big: BigValues) => {
  checkNumbering(c.run_id, c.expected_seq + 1, c);
  return {
    run_id: c.run_id,
    expected_seq: c.expected_seq,
    seq: c.expected_seq + c.events.length,
    status: c.status,
    current_step: c.current_step,
    envelope: big.add(jsonOnce(blobs.put(c.envelope))),
    view: big.json(blobs.put(c.view)),
    work_pending: c.work_pending,
    owner: c.owner,
    lease_ms: c.lease_ms,
    updated_at: c.updated_at,
    takeover: c.require_lease_expired === true,
  };
};

const runIdOf = (item: BatchItem) => (item.kind === 'create' ? item.run.record.run_id : item.change.run_id);

/** Explains the refusals of runs the guard did not return (rare, so a second query is fine). */
async function whyRefused(sql: Sql, items: BatchItem[]): Promise<Map<string, StoreError>> {
  const ids = items.map(runIdOf);
  const rows = await sql<{ run_id: string; seq: number; owner: string | null; lease_until: Date | null }[]>`
    select run_id::text as run_id, seq, owner, lease_until from runs where run_id = any(${ids}::uuid[])
  `;
  const found = new Map(rows.map((r) => [r.run_id, r]));
  const out = new Map<string, StoreError>();
  for (const item of items) {
    const id = runIdOf(item);
    const row = found.get(id);
    if (item.kind === 'create') {
      out.set(id, new StoreError('seq_conflict', `run ${id} was written concurrently`));
    } else if (!row) {
      out.set(id, new StoreError('not_found', `run ${id} not found`));
    } else if (row.seq !== item.change.expected_seq) {
      out.set(
        id,
        new StoreError(
          'seq_conflict',
          `run ${id} is at seq ${row.seq}, the change was computed from ${item.change.expected_seq}`,
        ),
      );
    } else {
      const until = row.lease_until?.toISOString() ?? 'unknown';
      out.set(id, new StoreError('lease_held', `run ${id} is leased by ${row.owner} until ${until}`));
    }
  }
  return out;
}

// A deadlock victim or a serialization failure: the statement was rolled back whole.
const CONFLICT_SQLSTATES = new Set(['40P01', '40001']);

/**
 * Commit many runs' changes in one statement. Per item: null (committed) or the error that refused
 * it. A statement that fails as a whole (a value Postgres refuses) is retried item by item, so one
 * bad change never fails the others; one Postgres chose as a deadlock's victim is sent again as it
 * was (up to three times); an unreachable Postgres throws `unavailable` for all.
 */
export async function commitBatch(
  sql: Sql,
  items: BatchItem[],
  memory: BlobMemory,
  attempt = 1,
): Promise<Array<Error | null>> {
  return guard('commit', async () => {
    const creates: ReturnType<typeof createRow>[] = [];
    const updates: ReturnType<typeof updateRow>[] = [];
    const events: unknown[] = [];
    const timers: unknown[] = [];
    const sync: string[] = [];
    const approvals: unknown[] = [];
    const work: unknown[] = [];
    const workDone: string[] = [];
    const blobRows: BlobRow[] = [];
    const written: RunBlobs[] = [];
    const big = new BigValues();
    for (const item of items) {
      const id = runIdOf(item);
      const body = item.kind === 'create' ? item.run : item.change;
      const blobs = new RunBlobs(id, memory);
      written.push(blobs);
      if (item.kind === 'create') creates.push(createRow(item.run, blobs, big));
      else updates.push(updateRow(item.change, blobs, big));
      for (const e of body.events) {
        events.push(eventColumns(e, big.json(blobs.put(e.payload))));
      }
      if (item.kind === 'create' || item.change.timers_changed !== false) {
        sync.push(id);
        for (const t of body.timers)
          timers.push({ owner_id: id, kind: t.kind, key: t.key, fire_at: t.fire_at });
      }
      for (const a of body.approvals)
        approvals.push({ ...a, approval: big.json(storedApproval(a.approval, blobs)), envelope: undefined });
      // After every value of this run is stored: the blobs any of them references.
      blobRows.push(...blobs.rows());
      if (item.kind === 'commit') {
        for (const w of item.change.work ?? [])
          work.push({ owner_id: id, kind: w.kind, key: w.key, fire_at: w.fire_at });
        workDone.push(...(item.change.work_done ?? []).filter((t) => /^[0-9]{1,18}$/.test(t)));
      }
    }
    let done: Set<string>;
    try {
      const rows = await sql.unsafe<{ run_id: string }[]>(
        BATCH_SQL,
        [
          JSON.stringify(creates),
          JSON.stringify(updates),
          JSON.stringify(events),
          JSON.stringify(timers),
          sync,
          JSON.stringify(approvals),
          JSON.stringify(work),
          workDone,
          JSON.stringify(blobRows),
          updates.map((u) => u.run_id),
          big.joined(),
          // Prepared once per connection: the statement is planned once, not per batch.
        ],
        { prepare: true },
      );
      done = new Set(rows.map((r) => r.run_id));
    } catch (err) {
      if (attempt < 3 && CONFLICT_SQLSTATES.has(sqlState(err) ?? '')) {
        return commitBatch(sql, items, memory, attempt + 1);
      }
      if (items.length === 1) throw err;
      if (err instanceof StoreError || isConnectionError(err)) throw err;
      // One change Postgres refuses must not fail the others: each alone.
      return Promise.all(
        items.map((item) =>
          commitBatch(sql, [item], memory).then(
            ([r]) => r ?? null,
            (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
          ),
        ),
      );
    }
    for (const b of written) if (done.has(b.runId)) b.committed();
    const refused = items.filter((item) => !done.has(runIdOf(item)));
    const why = refused.length > 0 ? await whyRefused(sql, refused) : new Map<string, StoreError>();
    return items.map((item) => why.get(runIdOf(item)) ?? null);
  });
}
