import type { ReservedSql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HitlError } from '../../actors/errors.ts';
import type { RunHost } from '../../actors/run-host.ts';
import { RUN_MACHINE_VERSION } from '../../machines/run-machine.ts';
import { runAtPayloadReview, testApp } from '../server/support.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { approvalOf, eventually, expectSound } from '../support/durability.ts';
import { createRun, isStatus, testHost, waitForView } from '../support/host.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

const AT_PAYLOAD = {
  policy: 'require_human' as const,
  allowed_steps: ['payload_review' as const, 'response_review' as const],
};

async function waitingRun(host: RunHost): Promise<{ id: string; approval: string }> {
  const run = await createRun(host, AT_PAYLOAD);
  const id = run.snapshot.context.run_id;
  const view = await waitForView(host, id, isStatus('awaiting_human'));
  return { id, approval: approvalOf(view).approval_id };
}

/** Hold a run's row lock in another session: the batch that writes it waits until `release`. */
async function holdRow(runId: string): Promise<{ release(): Promise<void> }> {
  const conn: ReservedSql = await db.sql.reserve();
  await conn`begin`;
  await conn`select 1 from runs where run_id = ${runId} for update`;
  return {
    async release() {
      await conn`rollback`;
      conn.release();
    },
  };
}

describe('group commit', () => {
  it('a batch where one run was moved by another node commits the others and retries that one alone', async () => {
    const one = testHost(db, { node: 'group-1' }).host;
    const two = testHost(db, { node: 'group-2' }).host;
    const blocker = await waitingRun(one);
    const a = await waitingRun(one);
    const b = await waitingRun(one);
    // Node two edits b's payload: node one's copy of b is now behind by one commit.
    await two.decide(
      b.id,
      { approval_id: b.approval, action: 'edit', edits: { payload: { prompt: 'x' } } },
      'user:u1',
    );

    const lock = await holdRow(blocker.id);
    const start = one.stats().batches;
    const first = one.decide(blocker.id, { approval_id: blocker.approval, action: 'approve' }, 'user:u1');
    await eventually(
      'the blocked batch to be in flight',
      async () => one.stats().batches > start || undefined,
    );
    const before = one.stats();
    const da = one.decide(a.id, { approval_id: a.approval, action: 'approve' }, 'user:u1');
    // Valid on any state, so its retry on the fresh state commits.
    const db2 = one.control(b.id, 'cancel', 'service:test0000');
    await eventually('both to wait for the next batch', async () => one.stats().queued === 2 || undefined);
    await lock.release();
    await Promise.all([first, da, db2]);

    const after = one.stats();
    expect(after.largest).toBeGreaterThanOrEqual(2);
    // b was refused in the shared batch (its seq moved), a was not held back by it.
    expect(after.refused - before.refused).toBe(1);
    expect(after.commits - before.commits).toBeGreaterThanOrEqual(3);
    for (const id of [blocker.id, a.id]) {
      const view = await waitForView(one, id, isStatus('awaiting_human'));
      expect(approvalOf(view).checkpoint_type).toBe('response_review');
      await expectSound(db, one, id);
    }
    const rows = await expectSound(db, one, b.id);
    expect(rows.map((r) => r.type)).toContain('review.edit');
    expect(rows[rows.length - 1]?.type).toBe('run.cancelled');
    await one.stop(200);
    await two.stop(200);
  });

  it('a full commit queue refuses with unavailable and accepts nothing', async () => {
    const host = testHost(db, { node: 'group-full', extra: { maxQueuedCommits: 1 } }).host;
    const blocker = await waitingRun(host);
    const a = await waitingRun(host);
    const b = await waitingRun(host);
    const seqB = (await host.read(b.id))?.seq;
    const lock = await holdRow(blocker.id);
    const start = host.stats().batches;
    const first = host.decide(blocker.id, { approval_id: blocker.approval, action: 'approve' }, 'user:u1');
    await eventually(
      'the blocked batch to be in flight',
      async () => host.stats().batches > start || undefined,
    );
    const queued = host.decide(a.id, { approval_id: a.approval, action: 'approve' }, 'user:u1');
    await eventually('one commit to wait', async () => host.stats().queued === 1 || undefined);
    const refused = host.decide(b.id, { approval_id: b.approval, action: 'approve' }, 'user:u1');
    await expect(refused).rejects.toBeInstanceOf(HitlError);
    await expect(refused).rejects.toMatchObject({ code: 'unavailable' });
    await lock.release();
    await Promise.all([first, queued]);
    expect((await host.read(b.id))?.seq).toBe(seqB);
    await expectSound(db, host, b.id);
    await host.stop(200);
  });

  it('over HTTP, a full commit queue answers 503 unavailable with Retry-After', async () => {
    const t = testApp(db, { host: { maxQueuedCommits: 1 } });
    const [blocker, a, b] = [
      await runAtPayloadReview(t),
      await runAtPayloadReview(t),
      await runAtPayloadReview(t),
    ];
    const approve = (r: { id: string; approvalId: string }) =>
      t.call('POST', `/hitl/run/${r.id}/approve`, { body: { approval_id: r.approvalId, action: 'approve' } });
    const lock = await holdRow(blocker.id);
    const start = t.host.stats().batches;
    const first = approve(blocker);
    await eventually(
      'the blocked batch to be in flight',
      async () => t.host.stats().batches > start || undefined,
    );
    const queued = approve(a);
    await eventually('one commit to wait', async () => t.host.stats().queued === 1 || undefined);
    const full = await approve(b);
    expect(full.status).toBe(503);
    expect(full.headers.get('retry-after')).toBe('1');
    expect(full.json).toMatchObject({ error: { code: 'unavailable' } });
    await lock.release();
    expect((await first).status).toBe(200);
    expect((await queued).status).toBe(200);
    // Nothing of b was accepted: a client that retries as told gets through.
    await eventually('the retried decision to be accepted', async () =>
      (await approve(b)).status === 200 ? true : undefined,
    );
    await t.close();
  });

  it('a run stored by the previous machine version is rebuilt from its events and continues', async () => {
    const old = testHost(db, { node: 'upgrade-old' }).host;
    const run = await waitingRun(old);
    await old.stop(200);
    // What an earlier deploy left: an envelope this machine cannot restore.
    await db.sql`
      update runs set envelope = ${db.sql.json({ machine_version: RUN_MACHINE_VERSION - 1, snapshot: { value: 'gone' } })}
       where run_id = ${run.id}`;
    const host = testHost(db, { node: 'upgrade-new' }).host;
    host.start();
    const view = await waitForView(host, run.id, isStatus('awaiting_human'));
    expect(approvalOf(view).approval_id).toBe(run.approval);
    await host.decide(run.id, { approval_id: run.approval, action: 'approve' }, 'user:u1');
    const next = await waitForView(host, run.id, isStatus('awaiting_human'));
    await host.decide(run.id, { approval_id: approvalOf(next).approval_id, action: 'approve' }, 'user:u1');
    expect((await waitForView(host, run.id, isStatus('completed'))).status).toBe('completed');
    await expectSound(db, host, run.id);
    await host.stop(200);
  });
});
