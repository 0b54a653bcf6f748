import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunHost } from '../../actors/run-host.ts';
import type { HitlConfigInput } from '../../machines/schemas.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import {
  approvalOf,
  closingRows,
  createsFor,
  eventually,
  expectSound,
  marker,
  replicateInput,
  runVerifyScript,
  slowCreates,
  typesOf,
} from '../support/durability.ts';
import {
  type FakeOutcome,
  type FakeReplicate,
  rateLimit,
  startFakeReplicate,
} from '../support/fake-replicate.ts';
import { createRun, isStatus, testHost, waitForView } from '../support/host.ts';

let db: TestDatabase;
let fake: FakeReplicate;
let host: RunHost;
/** Every run driven here, for the `npm run verify` check at the end. */
const driven: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  fake = await startFakeReplicate();
  host = testHost(db, { replicateUrl: fake.url }).host;
  host.start();
});
afterAll(async () => {
  await host?.stop(1000);
  await fake?.close();
  await db?.drop();
});

const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'expired']);
const isTerminal = (v: Record<string, unknown>) => TERMINAL.has(String(v.status));

interface Decision {
  at: string;
  action: 'approve' | 'edit' | 'reject' | 'retry';
  edits?: (mark: string) => Record<string, unknown>;
}

/** Start a Replicate run, answer its checkpoints in order, and wait until it ends. */
async function drive(config: HitlConfigInput, decisions: Decision[], script: FakeOutcome[] = []) {
  const mark = marker('path');
  fake.script(...script);
  const run = await createRun(host, config, replicateInput(mark));
  const runId = run.snapshot.context.run_id;
  driven.push(runId);
  for (const d of decisions) {
    const view = await waitForView(host, runId, isStatus('awaiting_human'));
    const open = approvalOf(view);
    expect(open.checkpoint_type).toBe(d.at);
    const edits = d.edits?.(mark);
    await host.decide(
      runId,
      { approval_id: open.approval_id, action: d.action, ...(edits ? { edits } : {}) },
      'user:u1',
    );
  }
  const view = await waitForView(host, runId, isTerminal, 15_000);
  const rows = await expectSound(db, host, runId);
  return { runId, mark, view, rows, creates: createsFor(fake, mark) };
}

const unprocessable: FakeOutcome = {
  kind: 'http',
  status: 422,
  body: { title: 'Input validation failed', detail: 'num_outputs: must be at most 4', status: 422 },
};

describe('a run taken down any path keeps a gap-free log that replays to its snapshot', () => {
  it('auto: straight through, one prediction', async () => {
    const r = await drive({ policy: 'auto' }, []);
    expect(r.view.status).toBe('completed');
    expect(r.creates).toHaveLength(1);
    expect(typesOf(r.rows)).toEqual([
      'run.created',
      'capabilities.reported',
      'payload.built',
      'prediction.submitting',
      'prediction.created',
      'prediction.succeeded',
      'run.completed',
    ]);
  });

  it('require_human: approve at every step', async () => {
    const r = await drive({ policy: 'require_human' }, [
      { at: 'information_review', action: 'approve' },
      { at: 'payload_review', action: 'approve' },
      { at: 'response_review', action: 'approve' },
    ]);
    expect(r.view.status).toBe('completed');
    expect(r.creates).toHaveLength(1);
    expect(typesOf(r.rows).filter((t) => t === 'approval.opened')).toHaveLength(3);
  });

  it.each([
    ['information_review', 'reject', 0],
    ['payload_review', 'reject', 0],
    ['response_review', 'reject', 1],
  ] as const)('require_human at %s: %s cancels the run', async (step, action, predictions) => {
    const r = await drive({ policy: 'require_human', allowed_steps: [step] }, [{ at: step, action }]);
    expect(r.view.status).toBe('cancelled');
    expect((r.view.error as { code: string }).code).toBe('rejected');
    expect(r.creates).toHaveLength(predictions);
  });

  it('require_human at information_review: edit sends the edited prompt', async () => {
    const r = await drive({ policy: 'require_human', allowed_steps: ['information_review'] }, [
      { at: 'information_review', action: 'edit', edits: (m) => ({ prompt: `a castle on a hill (${m})` }) },
    ]);
    expect(r.view.status).toBe('completed');
    expect(r.creates.map((c) => (c.input as { prompt: string }).prompt)).toEqual([
      `a castle on a hill (${r.mark})`,
    ]);
  });

  it('require_human at payload_review: edit sends exactly the edited payload', async () => {
    const r = await drive({ policy: 'require_human', allowed_steps: ['payload_review'] }, [
      { at: 'payload_review', action: 'edit', edits: () => ({ payload: { num_outputs: 2 } }) },
    ]);
    expect(r.view.status).toBe('completed');
    expect(r.creates.map((c) => (c.input as { num_outputs: number }).num_outputs)).toEqual([2]);
  });

  it('require_human at response_review: edit makes the edit the result', async () => {
    const r = await drive({ policy: 'require_human', allowed_steps: ['response_review'] }, [
      { at: 'response_review', action: 'edit', edits: () => ({ response: { text: 'written by hand' } }) },
    ]);
    expect(r.view.status).toBe('completed');
    expect(r.view.final_result).toEqual({ text: 'written by hand' });
  });

  it('require_human at response_review: retry runs the prediction again, then approve', async () => {
    const r = await drive({ policy: 'require_human', allowed_steps: ['response_review'] }, [
      { at: 'response_review', action: 'retry' },
      { at: 'response_review', action: 'approve' },
    ]);
    expect(r.view.status).toBe('completed');
    expect(r.creates).toHaveLength(2);
    expect(typesOf(r.rows).filter((t) => t === 'prediction.submitting')).toHaveLength(2);
  });

  it.each([
    ['edit', { payload: { num_outputs: 3 } }, 'completed', 2],
    ['retry', undefined, 'completed', 2],
    ['reject', undefined, 'cancelled', 1],
  ] as const)('a 422 opens error_recovery; %s', async (action, edits, status, predictions) => {
    const r = await drive(
      { policy: 'auto' },
      [{ at: 'error_recovery', action, ...(edits ? { edits: () => edits } : {}) }],
      [unprocessable],
    );
    expect(r.view.status).toBe(status);
    expect(r.creates).toHaveLength(predictions);
    const error = r.rows.find((row) => row.type === 'prediction.error');
    expect(error?.payload).toMatchObject({ code: 'model_validation_error' });
    if (action === 'edit') expect(r.creates[1]?.input).toMatchObject({ num_outputs: 3 });
  });

  it('two 429s are retried automatically (honouring backoff) and the third attempt succeeds', async () => {
    const r = await drive({ policy: 'auto' }, [], rateLimit(2, 0));
    expect(r.view.status).toBe('completed');
    expect(r.creates.map((c) => c.answered)).toEqual([429, 429, 201]);
    const errors = r.rows.filter((row) => row.type === 'prediction.error');
    expect(errors.map((e) => (e.payload as { code: string }).code)).toEqual(['rate_limited', 'rate_limited']);
    expect(
      r.rows.filter((row) => row.type === 'prediction.submitting').map((row) => row.payload.attempt),
    ).toEqual([1, 2, 3]);
  });

  it('expiry: a checkpoint nobody answers expires the run exactly once', async () => {
    const r = await drive({ policy: 'require_human', timeout_seconds: 1 }, []);
    expect(r.view.status).toBe('expired');
    const opened = r.rows.filter((row) => row.type === 'approval.opened');
    expect(opened).toHaveLength(1);
    const id = String(opened[0]?.payload.approval_id);
    expect(closingRows(r.rows, id).map((row) => [row.type, row.actor])).toEqual([
      ['approval.expired', 'system:timeout'],
    ]);
    expect(r.creates).toHaveLength(0);
  });

  it('cancel while waiting for a human cancels the run and its approval', async () => {
    const mark = marker('cancel');
    const run = await createRun(host, { policy: 'require_human' }, replicateInput(mark));
    const runId = run.snapshot.context.run_id;
    driven.push(runId);
    const waiting = await waitForView(host, runId, isStatus('awaiting_human'));
    await host.control(runId, 'cancel', 'service:test0000', 'not needed');
    const view = await waitForView(host, runId, isTerminal);
    expect(view.status).toBe('cancelled');
    const rows = await expectSound(db, host, runId);
    const approval = await host.read(runId).then((r) => r?.snapshot.context.approvals[0]);
    expect(approval?.approval_id).toBe(approvalOf(waiting).approval_id);
    expect(approval?.status).toBe('cancelled');
    expect(typesOf(rows)).toContain('run.cancelled');
  });

  it('cancel while a prediction runs cancels the run and the prediction', async () => {
    const mark = marker('cancel-flight');
    fake.script({ kind: 'succeed', afterMs: 3000 });
    const run = await createRun(host, { policy: 'auto' }, replicateInput(mark));
    const runId = run.snapshot.context.run_id;
    driven.push(runId);
    const inFlight = await waitForView(host, runId, (v) => v.prediction !== null);
    const predictionId = (inFlight.prediction as { id: string }).id;
    await host.control(runId, 'cancel', 'service:test0000');
    expect((await waitForView(host, runId, isTerminal)).status).toBe('cancelled');
    await eventually('the prediction to be cancelled', async () =>
      fake.received.cancels.includes(predictionId) ? true : undefined,
    );
    // The cancel's request and answer follow the run's end in its log (audit rows).
    await eventually('the cancel to be logged', async () =>
      typesOf(await host.listEvents(runId, 0, 100)).includes('prediction.cancel_confirmed')
        ? true
        : undefined,
    );
    await expectSound(db, host, runId);
    expect(createsFor(fake, mark)).toHaveLength(1);
  });

  it('pause while the prediction runs: the result is logged, nothing opens; resume completes', async () => {
    const mark = marker('pause');
    fake.script({ kind: 'succeed', afterMs: 600 });
    const run = await createRun(
      host,
      { policy: 'require_human', allowed_steps: ['response_review'] },
      replicateInput(mark),
    );
    const runId = run.snapshot.context.run_id;
    driven.push(runId);
    await waitForView(host, runId, (v) => v.prediction !== null);
    await host.control(runId, 'pause', 'service:test0000');
    const paused = await waitForView(
      host,
      runId,
      (v) => (v.prediction as { status: string }).status === 'succeeded',
    );
    expect(paused.status).toBe('paused');
    expect(paused.approval).toBeNull();
    await host.control(runId, 'resume', 'service:test0000');
    const review = await waitForView(host, runId, isStatus('awaiting_human'));
    await host.decide(runId, { approval_id: approvalOf(review).approval_id, action: 'approve' }, 'user:u1');
    expect((await waitForView(host, runId, isTerminal)).status).toBe('completed');
    const rows = await expectSound(db, host, runId);
    expect(typesOf(rows)).toEqual(
      expect.arrayContaining(['run.paused', 'prediction.succeeded', 'run.resumed']),
    );
    expect(typesOf(rows).indexOf('prediction.succeeded')).toBeLessThan(typesOf(rows).indexOf('run.resumed'));
    expect(createsFor(fake, mark)).toHaveLength(1);
  });

  it('pause and resume while the submission is in flight still sends one prediction', async () => {
    // The fake answers creates at once; a slow network is simulated by a host whose Replicate
    // client waits before each create, so pause and resume both land while it is in flight.
    const mark = marker('pause-submit');
    const slow = testHost(db, {
      replicateUrl: fake.url,
      extra: { providers: slowCreates(fake.url, 800) },
    }).host;
    slow.start();
    try {
      const run = await createRun(slow, { policy: 'auto' }, replicateInput(mark));
      const runId = run.snapshot.context.run_id;
      driven.push(runId);
      await eventually('the submission to be logged', async () =>
        typesOf(await slow.listEvents(runId, 0, 100)).includes('prediction.submitting') ? true : undefined,
      );
      await slow.control(runId, 'pause', 'service:test0000');
      await slow.control(runId, 'resume', 'service:test0000');
      expect((await waitForView(slow, runId, isTerminal)).status).toBe('completed');
      await expectSound(db, slow, runId);
      expect(createsFor(fake, mark)).toHaveLength(1);
    } finally {
      await slow.stop(2000);
    }
  });

  it('npm run verify says every driven run is consistent, and fails for a tampered one', async () => {
    const ok = await runVerifyScript(db.url, driven);
    expect(ok.code).toBe(0);
    expect(ok.results.map((r) => [r.run_id, r.consistent])).toEqual(driven.map((id) => [id, true]));
    const victim = driven[0]!;
    await db.sql`
      update runs set envelope = jsonb_set(envelope::jsonb, '{snapshot,context,final_result}', '"forged"')
       where run_id = ${victim}`;
    const bad = await runVerifyScript(db.url, [victim]);
    expect(bad.code).toBe(1);
    expect(bad.results).toEqual([expect.objectContaining({ run_id: victim, consistent: false })]);
    const missing = await runVerifyScript(db.url, ['00000000-0000-4000-8000-000000000000']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('not found');
  }, 60_000);
});
