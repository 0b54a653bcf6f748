import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEchoProvider } from '../../actors/providers/echo.ts';
import { createProviderRegistry } from '../../actors/providers/registry.ts';
import { createReplicateProvider } from '../../actors/providers/replicate.ts';
import type { RunHost } from '../../actors/run-host.ts';
import type { EventRow } from '../../persistence/types.ts';
import { ChildError, type HostChildEnv, killAllChildren, spawnHostChild } from '../support/child.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import {
  createsFor,
  eventsOf,
  eventually,
  expectSound,
  marker,
  replicateInput,
  typesOf,
  waitForChildView,
} from '../support/durability.ts';
import { failingCapabilities } from '../support/failing-provider.ts';
import { type FakeReplicate, startFakeReplicate } from '../support/fake-replicate.ts';
import { createRun, testHost, waitForView } from '../support/host.ts';

/** Issue 12: every side effect after a commit is durable work that survives a crash and gives up. */

let db: TestDatabase;
let fake: FakeReplicate;
/** A host that is never started: it only verifies logs. */
let verifier: RunHost;

beforeAll(async () => {
  db = await createTestDatabase();
  fake = await startFakeReplicate();
  verifier = testHost(db).host;
});
// A child left by a failed test must not take over the next test's runs.
afterEach(() => killAllChildren());
afterAll(async () => {
  await killAllChildren();
  await fake?.close();
  await db?.drop();
});

const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'expired']);
const isTerminal = (v: Record<string, unknown>) => TERMINAL.has(String(v.status));
const env = (extra: Partial<HostChildEnv> = {}): HostChildEnv => ({
  DATABASE_URL: db.url,
  REPLICATE_BASE_URL: fake.url,
  LEASE_MS: 1000,
  ...extra,
});
const payloadOf = (rows: EventRow[], type: string) =>
  rows.filter((r) => r.type === type).map((r) => r.payload as Record<string, unknown>);
const timersOf = (runId: string) =>
  db.sql<{ kind: string; key: string }[]>`select kind, key from timers where run_id = ${runId}`;

/** Rows of the run's log once `pred` holds for them. */
const logWhen = (runId: string, what: string, pred: (rows: EventRow[]) => boolean, ms = 20_000) =>
  eventually(
    what,
    async () => {
      const rows = await eventsOf(db, runId);
      return pred(rows) ? rows : undefined;
    },
    ms,
  );

/** The backoff between each failure and the retry that followed it, in ms. */
function backoffs(rows: EventRow[]): number[] {
  const out: number[] = [];
  rows.forEach((r, i) => {
    if (r.type !== 'provider.failed') return;
    const next = rows.slice(i + 1).find((x) => x.type === 'provider.retrying');
    if (next) out.push(Date.parse(next.created_at) - Date.parse(r.created_at));
  });
  return out;
}

describe('cancelling a prediction is durable work', () => {
  it('a node killed after the cancelling commit, before the cancel request: another node sends exactly one cancel and logs its request and answer', async () => {
    const mark = marker('cancel-crash');
    fake.script({ kind: 'succeed', afterMs: 60_000 });
    const a = await spawnHostChild(env({ NODE_ID: 'cancel-a', HITL_FAULT_POINT: 'before_cancel_request' }));
    const runId = await a.create({ policy: 'auto' }, replicateInput(mark));
    const inFlight = await waitForChildView(a, runId, (v) => v.prediction !== null);
    const predictionId = (inFlight.prediction as { id: string }).id;
    await a.send('control', { run_id: runId, action: 'cancel' }).catch((err: unknown) => {
      if (!(err instanceof ChildError && err.code === 'exited')) throw err;
    });
    expect(await a.exited).toBe('SIGKILL');
    // The run ended in the cancelling commit, which also wrote the cancel as work; nothing was sent.
    expect((await verifier.read(runId).then((r) => r && verifier.view(r)))?.status).toBe('cancelled');
    expect(await timersOf(runId)).toEqual([{ kind: 'cancel', key: predictionId }]);
    expect(fake.received.cancels).not.toContain(predictionId);

    const b = await spawnHostChild(env({ NODE_ID: 'cancel-b' }));
    const rows = await logWhen(runId, 'the cancel confirmation', (r) =>
      typesOf(r).includes('prediction.cancel_confirmed'),
    );
    expect(fake.received.cancels.filter((id) => id === predictionId)).toHaveLength(1);
    expect(typesOf(rows).slice(-3)).toEqual([
      'run.cancelled',
      'prediction.cancel_requested',
      'prediction.cancel_confirmed',
    ]);
    expect(rows.slice(-2).every((r) => r.derived && r.status === 'cancelled')).toBe(true);
    expect(payloadOf(rows, 'prediction.cancel_confirmed')).toEqual([
      expect.objectContaining({ prediction_id: predictionId, status: 'canceled', already_finished: false }),
    ]);
    // Done: the item is gone, so no node sends it again.
    expect(await timersOf(runId)).toEqual([]);
    await expectSound(db, verifier, runId);
    expect(createsFor(fake, mark)).toHaveLength(1);
    await b.kill();
  }, 60_000);

  it('cancel while a prediction runs (one node): one cancel, its request and confirmation in the log', async () => {
    const host = testHost(db, { replicateUrl: fake.url }).host;
    host.start();
    try {
      fake.script({ kind: 'succeed', afterMs: 60_000 });
      const run = await createRun(host, { policy: 'auto' }, replicateInput(marker('cancel-one')));
      const runId = run.snapshot.context.run_id;
      const inFlight = await waitForView(host, runId, (v) => v.prediction !== null);
      const predictionId = (inFlight.prediction as { id: string }).id;
      await host.control(runId, 'cancel', 'service:test0000');
      const rows = await logWhen(runId, 'the cancel confirmation', (r) =>
        typesOf(r).includes('prediction.cancel_confirmed'),
      );
      expect(fake.received.cancels.filter((id) => id === predictionId)).toHaveLength(1);
      expect(payloadOf(rows, 'prediction.cancel_requested')).toEqual([
        expect.objectContaining({ prediction_id: predictionId, attempt: 1 }),
      ]);
      await expectSound(db, host, runId);
    } finally {
      await host.stop(1000);
    }
  }, 30_000);

  it('a prediction that had already finished when its cancel arrived is recorded as such', async () => {
    // Polls are rare here, so the prediction finishes at the provider before the run hears of it.
    const host = testHost(db, {
      replicateUrl: fake.url,
      extra: { timers: { tickMs: 30, recoveryMs: 200, pollMs: 60_000 } },
    }).host;
    host.start();
    try {
      fake.script({ kind: 'succeed', afterMs: 300 });
      const run = await createRun(host, { policy: 'auto' }, replicateInput(marker('cancel-late')));
      const runId = run.snapshot.context.run_id;
      const inFlight = await waitForView(host, runId, (v) => v.prediction !== null);
      const predictionId = (inFlight.prediction as { id: string }).id;
      await eventually('the prediction to finish at the provider', async () =>
        fake.predictions.get(predictionId)?.status === 'succeeded' ? true : undefined,
      );
      await host.control(runId, 'cancel', 'service:test0000');
      const rows = await logWhen(runId, 'the cancel answer', (r) =>
        typesOf(r).includes('prediction.cancel_confirmed'),
      );
      expect(payloadOf(rows, 'prediction.cancel_confirmed')).toEqual([
        expect.objectContaining({ prediction_id: predictionId, status: 'succeeded', already_finished: true }),
      ]);
      expect(rows.at(-1)?.message).toContain('had already finished');
      await expectSound(db, host, runId);
    } finally {
      await host.stop(1000);
    }
  }, 30_000);
});

describe('a provider step that keeps failing gives up', () => {
  it('capabilities failing every time: max_retries retries with growing backoff, then failed with provider_unavailable', async () => {
    const calls: string[] = [];
    const replicate = createReplicateProvider({ token: 'test-token', baseUrl: fake.url });
    const host = testHost(db, {
      extra: {
        providers: createProviderRegistry([createEchoProvider(), failingCapabilities(replicate, 0, calls)]),
      },
    }).host;
    host.start();
    try {
      const run = await createRun(host, { policy: 'auto', max_retries: 2 }, replicateInput(marker('down')));
      const runId = run.snapshot.context.run_id;
      const view = await waitForView(host, runId, isTerminal, 20_000);
      expect(view.status).toBe('failed');
      expect(view.error).toEqual({
        code: 'provider_unavailable',
        message:
          'Reporting capabilities failed 3 time(s); last error: Replicate answered 503 Service Unavailable',
        step: 'information_review',
        retryable: false,
      });
      expect(calls).toHaveLength(3);
      const rows = await expectSound(db, host, runId);
      expect(typesOf(rows)).toEqual([
        'run.created',
        'provider.failed',
        'provider.retrying',
        'provider.failed',
        'provider.retrying',
        'provider.failed',
        'run.failed',
      ]);
      const [first = 0, second = 0] = backoffs(rows);
      expect(first).toBeGreaterThanOrEqual(1000);
      expect(second).toBeGreaterThanOrEqual(2000);
      expect(await timersOf(runId)).toEqual([]);
    } finally {
      await host.stop(1000);
    }
  }, 30_000);

  it('a lease takeover in the middle keeps the count and logs run.recovered once', async () => {
    // Node a's calls hang 2 s before failing; it dies during its second call.
    const a = await spawnHostChild(env({ NODE_ID: 'steps-a', FAIL_CAPABILITIES_MS: 2000 }));
    const runId = await a.create({ policy: 'auto', max_retries: 3 }, replicateInput(marker('takeover')));
    await logWhen(runId, 'the second call', (r) => typesOf(r).includes('provider.retrying'));
    await a.kill();

    const b = await spawnHostChild(env({ NODE_ID: 'steps-b', FAIL_CAPABILITIES_MS: 10 }));
    const view = await waitForChildView(b, runId, isTerminal, 30_000);
    const rows = await eventsOf(db, runId);
    expect(rows.map((r) => `${r.type} ${r.actor} ${r.created_at}`).join('\n')).toContain('run.failed');
    expect(view.status).toBe('failed');
    expect(view.error).toMatchObject({ code: 'provider_unavailable', step: 'information_review' });
    await expectSound(db, verifier, runId);
    expect(typesOf(rows)).toEqual([
      'run.created',
      'provider.failed',
      'provider.retrying',
      'run.recovered',
      'provider.failed',
      'provider.retrying',
      'provider.failed',
      'provider.retrying',
      'provider.failed',
      'run.failed',
    ]);
    expect(payloadOf(rows, 'provider.failed').map((p) => p.attempt)).toEqual([1, 2, 3, 4]);
    expect(payloadOf(rows, 'run.recovered')).toEqual([expect.objectContaining({ node: 'steps-b' })]);
    // Backoff 1 s, 2 s, 4 s after failures 1, 2 and 3, whichever node logged them.
    const waits = backoffs(rows);
    expect(waits.map((ms, i) => ms >= 1000 * 2 ** i)).toEqual([true, true, true]);
    await b.kill();
  }, 90_000);
});
