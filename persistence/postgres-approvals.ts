import type { Fragment, Sql, TransactionSql } from 'postgres';
import { isUuid } from '../machines/ids.ts';
import { hydrateRows, type RunBlobs } from './postgres-blobs.ts';
import { guard, sqlState } from './postgres-errors.ts';
import { decodeCursor, keysetPage } from './postgres-paging.ts';
import { reviewerMayDecide } from './postgres-reviewers.ts';
import type { ApprovalDbRow } from './postgres-rows.ts';
import { jsonb, toApprovalRow } from './postgres-rows.ts';
import { syncTimers } from './postgres-timers.ts';
import type { ApprovalRow, RunStore } from './types.ts';
import { StoreError } from './types.ts';

type PendingFilter = Parameters<RunStore['listPendingApprovals']>[0];

const APPROVAL_COLUMNS = (sql: Sql) => sql`
  a.approval_id, a.run_id, a.status, a.checkpoint_type, a.user_id, a.session_id, a.created_by,
  a.created_at, a.expires_at, a.approval, a.envelope, a.version
`;

const toDbValues = (tx: Sql | TransactionSql, a: ApprovalRow) => ({
  approval_id: a.approval_id,
  run_id: a.run_id ?? null,
  status: a.status,
  checkpoint_type: a.checkpoint_type,
  user_id: a.user_id ?? null,
  session_id: a.session_id ?? null,
  created_by: a.created_by ?? null,
  created_at: a.created_at,
  expires_at: a.expires_at,
  approval: jsonb(tx, a.approval),
  envelope: a.envelope === null ? null : jsonb(tx, a.envelope),
  version: a.version,
});

/**
 * Run approvals reference their run's long strings (`run_blobs`); standalone ones hold them. An
 * approval's `reviewers` always stay as written: SQL filters on them (`reviewerMayDecide`).
 */
export function storedApproval(approval: Record<string, unknown>, blobs: RunBlobs): Record<string, unknown> {
  const { reviewers, ...rest } = approval;
  const stored = blobs.put(rest);
  return stored === rest ? approval : { ...approval, ...stored };
}

async function hydrateApprovals(sql: Sql, rows: ApprovalDbRow[]): Promise<void> {
  const parts = rows.flatMap((row) => {
    if (row.run_id === null) return [];
    const { reviewers: _, ...rest } = row.approval;
    return [{ run_id: row.run_id, approval: rest, row }];
  });
  if (parts.length === 0) return;
  await hydrateRows(sql, parts, ['approval']);
  for (const p of parts) p.row.approval = { ...p.row.approval, ...p.approval };
}

/**
 * Inserts or replaces (by approval_id) the approvals written with a run commit; `blobs` is that
 * commit's: the caller writes its `run_blobs` rows after (the run's long strings, stored once).
 */
export async function upsertApprovals(
  tx: TransactionSql,
  approvals: ApprovalRow[],
  blobs: RunBlobs,
): Promise<void> {
  if (approvals.length === 0) return;
  const rows = approvals.map((a) => toDbValues(tx, { ...a, approval: storedApproval(a.approval, blobs) }));
  await tx`
    insert into approvals ${tx(rows)}
    on conflict (approval_id) do update
       set run_id = excluded.run_id, status = excluded.status, checkpoint_type = excluded.checkpoint_type,
           user_id = excluded.user_id, session_id = excluded.session_id, created_by = excluded.created_by,
           created_at = excluded.created_at, expires_at = excluded.expires_at, approval = excluded.approval,
           envelope = excluded.envelope, version = excluded.version
  `;
}

function pendingConditions(sql: Sql, filter: PendingFilter): Fragment {
  // Expired approvals are never listed, even before their deadline timer has fired.
  const conds: Fragment[] = [sql`a.status = 'pending' and a.expires_at > now()`];
  if (filter.user_id !== undefined) conds.push(sql`a.user_id = ${filter.user_id}`);
  if (filter.session_id !== undefined) conds.push(sql`a.session_id = ${filter.session_id}`);
  if (filter.run_id !== undefined) conds.push(sql`a.run_id = ${filter.run_id}`);
  const reviewer = filter.reviewer;
  if (reviewer !== undefined && !reviewer.roles.includes('admin')) {
    conds.push(reviewerMayDecide(sql, reviewer));
  }
  return conds.reduce((acc, c) => sql`${acc} and ${c}`);
}

/** The approval half of `RunStore`. */
export function createApprovalOps(
  sql: Sql,
): Pick<RunStore, 'getApproval' | 'listPendingApprovals' | 'createApproval' | 'updateApproval'> {
  return {
    getApproval: (approvalId) =>
      guard('getApproval', async () => {
        if (!isUuid(approvalId)) return null;
        const [row] = await sql<ApprovalDbRow[]>`
          select ${APPROVAL_COLUMNS(sql)} from approvals a where a.approval_id = ${approvalId}
        `;
        if (row === undefined) return null;
        await hydrateApprovals(sql, [row]);
        return toApprovalRow(row);
      }),

    listPendingApprovals: (filter, limit, cursor) =>
      guard('listPendingApprovals', async () => {
        const after = cursor === null ? null : decodeCursor(cursor);
        if (filter.run_id !== undefined && !isUuid(filter.run_id)) {
          return { items: [], total: 0, next_cursor: null };
        }
        const where = pendingConditions(sql, filter);
        const query = {
          table: 'approvals',
          alias: 'a',
          id: 'approval_id',
          columns: APPROVAL_COLUMNS(sql),
          where,
        } as const;
        return keysetPage(sql, query, { limit, after }, toApprovalRow, (rows) => hydrateApprovals(sql, rows));
      }),

    createApproval: (row, timer) =>
      guard('createApproval', async () => {
        await sql
          .begin(async (tx) => {
            await tx`insert into approvals ${tx(toDbValues(tx, row))}`;
            // A standalone approval owns its timers; run_id stays null so no run host picks them up.
            await syncTimers(tx, row.approval_id, null, [timer]);
          })
          .catch((err: unknown) => {
            if (sqlState(err) !== '23505') throw err;
            throw new StoreError('version_conflict', `approval ${row.approval_id} already exists`);
          });
      }),

    updateApproval: (row, expectedVersion) =>
      guard('updateApproval', async () => {
        if (!isUuid(row.approval_id))
          throw new StoreError('not_found', `approval ${row.approval_id} not found`);
        await sql.begin(async (tx) => {
          const v = toDbValues(tx, row);
          // The stored version always moves to expectedVersion + 1, whatever the row says.
          const updated = await tx`
            update approvals
               set status = ${v.status}, checkpoint_type = ${v.checkpoint_type}, user_id = ${v.user_id},
                   session_id = ${v.session_id}, created_by = ${v.created_by}, run_id = ${v.run_id},
                   expires_at = ${v.expires_at}, approval = ${v.approval}, envelope = ${v.envelope},
                   version = ${expectedVersion + 1}
             where approval_id = ${row.approval_id} and version = ${expectedVersion}
            returning approval_id
          `;
          if (updated.length === 0) {
            const [found] = await tx<{ version: number }[]>`
              select version from approvals where approval_id = ${row.approval_id}
            `;
            if (found === undefined)
              throw new StoreError('not_found', `approval ${row.approval_id} not found`);
            throw new StoreError(
              'version_conflict',
              `approval ${row.approval_id} is at version ${found.version}, expected ${expectedVersion}`,
            );
          }
          if (row.status !== 'pending') await syncTimers(tx, row.approval_id, null, []);
        });
      }),
  };
}
