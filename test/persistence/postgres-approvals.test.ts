import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ApprovalRow } from '../../persistence/types.ts';
import { storeOnTestDatabase } from '../support/db.ts';
import { approvalRow, commitOf, inMs, newRun } from '../support/store-fixtures.ts';

const t = storeOnTestDatabase();

const deadline = (a: ApprovalRow) => ({
  kind: 'approval_deadline' as const,
  key: a.approval_id,
  fire_at: a.expires_at,
});

/** Standalone approvals one second apart in `session`, oldest first. */
async function seed(session: string, rows: Array<Partial<ApprovalRow>>): Promise<ApprovalRow[]> {
  const made: ApprovalRow[] = [];
  for (const [i, overrides] of rows.entries()) {
    const row = approvalRow({
      session_id: session,
      created_at: new Date(Date.UTC(2030, 0, 1, 0, 0, i)).toISOString(),
      ...overrides,
    });
    await t.store.createApproval(row, deadline(row));
    made.push(row);
  }
  return made;
}

describe('pending approvals', () => {
  it('lists pending ones newest first, pages them, and never lists expired or decided ones', async () => {
    const session = randomUUID();
    const [a, b, , , e] = await seed(session, [
      {},
      {},
      { expires_at: inMs(-1_000) },
      { status: 'approved' },
      {},
    ]);
    const first = await t.store.listPendingApprovals({ session_id: session }, 2, null);
    expect(first.total).toBe(3);
    expect(first.items.map((x) => x.approval_id)).toEqual([e?.approval_id, b?.approval_id]);
    const second = await t.store.listPendingApprovals({ session_id: session }, 2, first.next_cursor);
    expect(second).toMatchObject({ total: 3, next_cursor: null });
    expect(second.items.map((x) => x.approval_id)).toEqual([a?.approval_id]);
    expect(second.items[0]).toEqual(a);
  });

  it('shows a reviewer only what it may decide; admin sees everything', async () => {
    const session = randomUUID();
    const [forAlice, forRole] = await seed(session, [
      { approval: { reviewers: { user_ids: ['alice'], roles: [] } } },
      { approval: { reviewers: { user_ids: [], roles: ['legal'] } } },
      { approval: {} },
    ]);
    const ids = (sub: string, roles: string[]) =>
      t.store
        .listPendingApprovals({ session_id: session, reviewer: { sub, roles } }, 10, null)
        .then((p) => p.items.map((x) => x.approval_id));
    expect(await ids('alice', [])).toEqual([forAlice?.approval_id]);
    expect(await ids('bob', ['legal', 'other'])).toEqual([forRole?.approval_id]);
    expect(await ids('bob', ['reviewer'])).toEqual([]);
    expect(await ids('root', ['admin'])).toHaveLength(3);
  });

  it('filters by user, session and run', async () => {
    const run = newRun();
    await t.store.createRun(run);
    const runId = run.record.run_id;
    const open = approvalRow({ run_id: runId, envelope: null, user_id: 'frank' });
    await t.store.commit(commitOf(runId, 1, 1, { approvals: [open] }));
    expect((await t.store.listPendingApprovals({ run_id: runId }, 10, null)).items).toEqual([open]);
    expect((await t.store.listPendingApprovals({ user_id: 'frank' }, 10, null)).total).toBe(1);
    expect((await t.store.listPendingApprovals({ run_id: 'junk' }, 10, null)).total).toBe(0);
  });
});

describe('standalone approvals', () => {
  it('updates with compare-and-set on version', async () => {
    const row = approvalRow();
    await t.store.createApproval(row, deadline(row));
    await t.store.updateApproval({ ...row, version: 1, approval: { note: 'edited' } }, 0);
    expect(await t.store.getApproval(row.approval_id)).toMatchObject({
      version: 1,
      approval: { note: 'edited' },
    });
    await expect(t.store.updateApproval({ ...row, version: 1 }, 0)).rejects.toMatchObject({
      code: 'version_conflict',
    });
    await expect(t.store.updateApproval(approvalRow(), 0)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('lets exactly one of two concurrent decisions win', async () => {
    const row = approvalRow();
    await t.store.createApproval(row, deadline(row));
    const results = await Promise.allSettled([
      t.store.updateApproval({ ...row, status: 'approved', version: 1 }, 0),
      t.store.updateApproval({ ...row, status: 'rejected', version: 1 }, 0),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });

  it('drops its deadline timer once decided', async () => {
    const row = approvalRow();
    await t.store.createApproval(row, deadline(row));
    const timers = () => t.db.sql`select id from timers where owner_id = ${row.approval_id}`;
    expect(await timers()).toHaveLength(1);
    await t.store.updateApproval({ ...row, status: 'pending', version: 1 }, 0);
    expect(await timers()).toHaveLength(1);
    await t.store.updateApproval({ ...row, status: 'approved', version: 2 }, 1);
    expect(await timers()).toHaveLength(0);
  });

  it('refuses a second approval with the same id', async () => {
    const row = approvalRow();
    await t.store.createApproval(row, deadline(row));
    await expect(t.store.createApproval(row, deadline(row))).rejects.toMatchObject({
      code: 'version_conflict',
    });
    expect(await t.store.getApproval('junk')).toBeNull();
  });
});
