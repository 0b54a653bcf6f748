import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunHost } from '../../actors/run-host.ts';
import { killAllChildren, spawnHostChild } from '../support/child.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { approvalOf, expectSound, typesOf, waitForChildView } from '../support/durability.ts';
import { testHost } from '../support/host.ts';

let db: TestDatabase;
let verifier: RunHost;

beforeAll(async () => {
  db = await createTestDatabase();
  verifier = testHost(db).host;
});
afterAll(async () => {
  await killAllChildren();
  await db?.drop();
});

const CONFIG = { policy: 'require_human', allowed_steps: ['payload_review'] };
const isTerminal = (v: Record<string, unknown>) =>
  ['completed', 'failed', 'cancelled', 'expired'].includes(String(v.status));

it('a node killed while a group commit is in flight loses nothing acknowledged and half-writes nothing', async () => {
  const a = await spawnHostChild({ DATABASE_URL: db.url, NODE_ID: 'batch-a', LEASE_MS: 1000 });
  const runs: Array<{ id: string; approval: string; seq: number }> = [];
  for (let i = 0; i < 6; i++) {
    const id = await a.create(CONFIG);
    const view = await waitForChildView(a, id, (v) => v.status === 'awaiting_human');
    runs.push({ id, approval: approvalOf(view).approval_id, seq: Number(view.seq) });
  }
  await a.kill();

  // Six decisions at once; the node dies as soon as its first batch statement is on its way.
  const b = await spawnHostChild({
    DATABASE_URL: db.url,
    NODE_ID: 'batch-b',
    LEASE_MS: 1000,
    HITL_FAULT_POINT: 'batch_in_flight',
  });
  const answers = await Promise.allSettled(runs.map((r) => b.decide(r.id, r.approval, 'approve')));
  expect(await b.exited).toBe('SIGKILL');
  expect(answers.every((x) => x.status === 'rejected')).toBe(true);

  // Every acknowledged commit is there; the in-flight one is there entirely or not at all.
  for (const r of runs) {
    const rows = await expectSound(db, verifier, r.id);
    expect(rows.length).toBeGreaterThanOrEqual(r.seq);
    const tail = typesOf(rows.slice(r.seq));
    if (tail.length > 0) {
      expect(tail[0]).toBe('review.approve');
      expect(tail[tail.length - 1]).toBe('prediction.submitting');
    }
  }

  // Another node finishes every run: an intent logged without its request goes to a human.
  const c = await spawnHostChild({ DATABASE_URL: db.url, NODE_ID: 'batch-c', LEASE_MS: 1000 });
  for (const r of runs) {
    for (let step = 0; step < 3; step++) {
      const view = await waitForChildView(c, r.id, (v) => v.status === 'awaiting_human' || isTerminal(v));
      if (isTerminal(view)) break;
      const open = approvalOf(view);
      if (open.checkpoint_type === 'error_recovery') {
        expect(view.error).toMatchObject({ code: 'submission_outcome_unknown' });
      }
      await c.decide(r.id, open.approval_id, open.checkpoint_type === 'error_recovery' ? 'retry' : 'approve');
    }
    expect((await waitForChildView(c, r.id, isTerminal)).status).toBe('completed');
    await expectSound(db, verifier, r.id);
  }
  await c.kill();
}, 90_000);
