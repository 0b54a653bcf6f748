import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HitlError } from '../../actors/errors.ts';
import type { DecisionRequest } from '../../actors/run-decide.ts';
import type { RunHost } from '../../actors/run-host.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { approvalOf, closingRows, expectSound } from '../support/durability.ts';
import { createRun, isStatus, testHost, waitForView } from '../support/host.ts';

let db: TestDatabase;
let a: RunHost;
let b: RunHost;

beforeAll(async () => {
  db = await createTestDatabase();
  // Two nodes on one database, each with its own cache: only Postgres keeps them honest.
  a = testHost(db, { node: 'node-a' }).host;
  b = testHost(db, { node: 'node-b' }).host;
  a.start();
  b.start();
});
afterAll(async () => {
  await Promise.all([a?.stop(1000), b?.stop(1000)]);
  await db?.drop();
});

const isTerminal = (v: Record<string, unknown>) =>
  ['completed', 'failed', 'cancelled', 'expired'].includes(String(v.status));
const LOSING_CODES = ['approval_not_pending', 'conflict'];

/**
 * Send `requests` all at once, alternating between the two nodes; exactly one must win and the
 * others fail with one of `codes`. Returns the settled results.
 */
async function race(
  runId: string,
  requests: Array<Omit<DecisionRequest, 'approval_id'>>,
  approvalId: string,
  codes = LOSING_CODES,
) {
  const results = await Promise.allSettled(
    requests.map((r, i) =>
      (i % 2 === 0 ? a : b).decide(runId, { ...r, approval_id: approvalId }, `user:r${i}`),
    ),
  );
  const won = results.filter((r) => r.status === 'fulfilled');
  const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  expect(won).toHaveLength(1);
  expect(lost).toHaveLength(requests.length - 1);
  for (const err of lost) {
    expect(err).toBeInstanceOf(HitlError);
    expect(codes).toContain((err as HitlError).code);
  }
  return results;
}

describe('concurrent decisions on one approval', () => {
  it('20 identical approvals through two nodes: one is accepted, 19 are refused, one review row', async () => {
    // The run stops again at payload_review, so it is still live when the losers are refused.
    const run = await createRun(a, {
      policy: 'require_human',
      allowed_steps: ['information_review', 'payload_review'],
    });
    const runId = run.snapshot.context.run_id;
    const { approval_id } = approvalOf(await waitForView(b, runId, isStatus('awaiting_human')));
    await race(
      runId,
      Array.from({ length: 20 }, () => ({ action: 'approve' as const })),
      approval_id,
    );
    const next = approvalOf(await waitForView(a, runId, isStatus('awaiting_human')));
    expect(next.checkpoint_type).toBe('payload_review');
    await b.decide(runId, { approval_id: next.approval_id, action: 'approve' }, 'user:u1');
    expect((await waitForView(a, runId, isTerminal)).status).toBe('completed');
    const rows = await expectSound(db, a, runId);
    expect(closingRows(rows, approval_id).map((r) => r.type)).toEqual(['review.approve']);
    // One review row per approval: the race's and the payload approval's.
    expect(rows.filter((r) => r.type.startsWith('review.')).map((r) => r.payload.approval_id)).toEqual([
      approval_id,
      next.approval_id,
    ]);
  });

  it('20 different answers (approve, edit, reject) at payload_review: the winner alone decides the run', async () => {
    const run = await createRun(a, { policy: 'require_human', allowed_steps: ['payload_review'] });
    const runId = run.snapshot.context.run_id;
    const { approval_id } = approvalOf(await waitForView(a, runId, isStatus('awaiting_human')));
    const answers = Array.from({ length: 20 }, (_, i) =>
      i % 3 === 0
        ? { action: 'reject' as const, reason: `no ${i}` }
        : i % 3 === 1
          ? { action: 'edit' as const, edits: { payload: { prompt: `edited by ${i}` } } }
          : { action: 'approve' as const },
    );
    // A winning reject ends the run: the answers refused after it are `run_terminal` (SPEC §3 order).
    const results = await race(runId, answers, approval_id, [...LOSING_CODES, 'run_terminal']);
    const winner = answers[results.findIndex((r) => r.status === 'fulfilled')]!;
    const done = await waitForView(b, runId, isTerminal);
    const rows = await expectSound(db, b, runId);
    const closing = closingRows(rows, approval_id);
    expect(closing.map((r) => r.type)).toEqual([`review.${winner.action}`]);
    if (winner.action === 'reject') expect(done.status).toBe('cancelled');
    else expect(done.status).toBe('completed');
    if (winner.action === 'edit') expect(done.final_result).toEqual(winner.edits.payload);
  });

  it('decisions racing the deadline: exactly one of them, or the timeout, closes the approval', async () => {
    const run = await createRun(a, {
      policy: 'require_human',
      allowed_steps: ['information_review'],
      timeout_seconds: 1,
      on_timeout: 'reject',
    });
    const runId = run.snapshot.context.run_id;
    const view = await waitForView(a, runId, isStatus('awaiting_human'));
    const { approval_id } = approvalOf(view);
    // Fire right at the deadline, when both nodes' timers are claiming it too.
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(String(view.expires_at)) - Date.now())));
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? a : b).decide(runId, { approval_id, action: 'approve' }, `user:r${i}`),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled').length).toBeLessThanOrEqual(1);
    for (const r of results) {
      if (r.status === 'rejected')
        expect([...LOSING_CODES, 'run_terminal']).toContain((r.reason as HitlError).code);
    }
    await waitForView(a, runId, isTerminal);
    // Give a late timer every chance to fire twice.
    await new Promise((r) => setTimeout(r, 300));
    const rows = await expectSound(db, a, runId);
    expect(closingRows(rows, approval_id)).toHaveLength(1);
  });
});
