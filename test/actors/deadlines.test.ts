import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunHost } from '../../actors/run-host.ts';
import type { EventRow } from '../../persistence/types.ts';
import { killAllChildren, spawnHostChild } from '../support/child.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import {
  approvalOf,
  closingRows,
  createInChild,
  eventsOf,
  expectSound,
  waitForChildView,
} from '../support/durability.ts';
import { isStatus, testHost, waitForView } from '../support/host.ts';

let db: TestDatabase;
const hosts: RunHost[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
});
afterEach(async () => {
  // A host left ticking would take the next test's timers.
  await killAllChildren();
  await Promise.all(hosts.splice(0).map((h) => h.stop(1000)));
});
afterAll(async () => {
  await db?.drop();
});

function startHost(node: string): RunHost {
  const { host } = testHost(db, { node });
  hosts.push(host);
  host.start();
  return host;
}

const isTerminal = (v: Record<string, unknown>) =>
  ['completed', 'failed', 'cancelled', 'expired'].includes(String(v.status));
const ONE_SECOND = { policy: 'require_human', allowed_steps: ['information_review'], timeout_seconds: 1 };

/** The one row that closed the approval, checked to be by the timeout and in time. */
function timeoutRow(rows: EventRow[], approvalId: string, expiresAt: string): EventRow {
  const closing = closingRows(rows, approvalId);
  expect(closing).toHaveLength(1);
  const row = closing[0]!;
  expect(row.actor).toBe('system:timeout');
  const late = Date.parse(row.created_at) - Date.parse(expiresAt);
  expect(late).toBeGreaterThanOrEqual(0);
  expect(late).toBeLessThan(5000);
  return row;
}

describe('checkpoint deadlines are durable and fire exactly once', () => {
  it('deadlines set by a node that died fire on the nodes alive, once each, per on_timeout', async () => {
    const a = await spawnHostChild({ DATABASE_URL: db.url, NODE_ID: 'deadline-a', LEASE_MS: 1000 });
    const cases = [
      { on_timeout: 'expire', status: 'expired', type: 'approval.expired' },
      { on_timeout: 'approve', status: 'completed', type: 'review.approve' },
      { on_timeout: 'reject', status: 'cancelled', type: 'review.reject' },
    ] as const;
    const runs: Array<{ runId: string; approvalId: string; expiresAt: string }> = [];
    for (const c of cases) {
      const runId = await a.create({ ...ONE_SECOND, on_timeout: c.on_timeout });
      const view = await waitForChildView(a, runId, isStatus('awaiting_human'));
      runs.push({ runId, approvalId: approvalOf(view).approval_id, expiresAt: String(view.expires_at) });
    }
    await a.kill();
    // A died before any deadline passed: whatever fires them is another node.
    for (const r of runs) expect(Date.parse(r.expiresAt)).toBeGreaterThan(Date.now());

    // Two nodes race for every due timer.
    const b = startHost('deadline-b');
    startHost('deadline-c');
    for (const [i, c] of cases.entries()) {
      const r = runs[i]!;
      const view = await waitForView(b, r.runId, isTerminal, 8000);
      expect(view.status).toBe(c.status);
      if (c.on_timeout === 'reject') expect(view.error).toMatchObject({ code: 'rejected' });
      const rows = await expectSound(db, b, r.runId);
      expect(timeoutRow(rows, r.approvalId, r.expiresAt).type).toBe(c.type);
    }
    // Nothing fires a second time later, and no timer is left behind.
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const r of runs) expect(closingRows(await eventsOf(db, r.runId), r.approvalId)).toHaveLength(1);
    const ids = runs.map((r) => r.runId);
    const left = await db.sql`select id from timers where run_id = any(${ids}::uuid[])`;
    expect(left).toHaveLength(0);
  }, 30_000);

  it('a deadline claimed by a node that died right then still fires within 5 s of expires_at', async () => {
    const a = await spawnHostChild({
      DATABASE_URL: db.url,
      NODE_ID: 'claim-a',
      HITL_FAULT_POINT: 'after_claim',
    });
    const runId = await createInChild(a, db, ONE_SECOND, { prompt: 'claimed then lost' });
    const view = await waitForChildView(a, runId, isStatus('awaiting_human'));
    // A claims the due deadline and dies holding the claim.
    expect(await a.exited).toBe('SIGKILL');
    const [claim] = await db.sql<{ claimed_by: string }[]>`
      select claimed_by from timers where run_id = ${runId} and kind = 'deadline'`;
    expect(claim?.claimed_by).toBe('claim-a');

    const b = startHost('claim-b');
    const done = await waitForView(b, runId, isTerminal, 8000);
    expect(done.status).toBe('expired');
    const rows = await expectSound(db, b, runId);
    timeoutRow(rows, approvalOf(view).approval_id, String(view.expires_at));
  }, 30_000);
});
