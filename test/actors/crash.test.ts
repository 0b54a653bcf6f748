import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunHost } from '../../actors/run-host.ts';
import { type HostChildEnv, killAllChildren, spawnHostChild } from '../support/child.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import {
  approvalOf,
  createInChild,
  createsFor,
  eventsOf,
  expectSound,
  marker,
  replicateInput,
  slowCreates,
  typesOf,
  waitForChildView,
} from '../support/durability.ts';
import { type FakeReplicate, startFakeReplicate } from '../support/fake-replicate.ts';
import { createRun, isStatus, testHost, waitForView } from '../support/host.ts';

let db: TestDatabase;
let fake: FakeReplicate;
/** A host that is never started: it only verifies logs. */
let verifier: RunHost;

beforeAll(async () => {
  db = await createTestDatabase();
  fake = await startFakeReplicate();
  verifier = testHost(db).host;
});
afterAll(async () => {
  await killAllChildren();
  await fake?.close();
  await db?.drop();
});

const OPENAPI = {
  components: {
    schemas: {
      Input: { type: 'object', properties: { prompt: { type: 'string' } }, required: ['prompt'] },
    },
  },
};

const env = (extra: Partial<HostChildEnv> = {}): HostChildEnv => ({
  DATABASE_URL: db.url,
  REPLICATE_BASE_URL: fake.url,
  LEASE_MS: 1000,
  ...extra,
});
const isTerminal = (v: Record<string, unknown>) =>
  ['completed', 'failed', 'cancelled', 'expired'].includes(String(v.status));

describe('a host killed with SIGKILL loses nothing', () => {
  it('runs waiting for a human or for a logged prediction finish on the next node, one prediction each', async () => {
    const a = await spawnHostChild(env({ NODE_ID: 'crash-a' }));
    // 1: waits for a human before anything is sent.
    const m1 = marker('human');
    const r1 = await a.create(
      { policy: 'require_human', allowed_steps: ['information_review'] },
      replicateInput(m1),
    );
    // 2: its prediction was created and its id logged; the prediction finishes ~1.5 s later.
    const m2 = marker('in-flight');
    fake.script({ kind: 'succeed', afterMs: 1500 });
    const r2 = await a.create({ policy: 'auto' }, replicateInput(m2));
    await waitForChildView(a, r2, (v) => v.prediction !== null);
    // 3: the prediction is done and its response waits for a human.
    const m3 = marker('response');
    const r3 = await a.create(
      { policy: 'require_human', allowed_steps: ['response_review'] },
      replicateInput(m3),
    );
    await waitForChildView(a, r1, isStatus('awaiting_human'));
    await waitForChildView(a, r3, isStatus('awaiting_human'));
    await a.kill();
    expect((await verifier.read(r2).then((r) => r && verifier.view(r)))?.status).toBe('running');

    const b = await spawnHostChild(env({ NODE_ID: 'crash-b' }));
    for (const runId of [r1, r3]) {
      const open = approvalOf(await b.view(runId));
      await b.decide(runId, open.approval_id, 'approve');
    }
    for (const runId of [r1, r2, r3]) {
      expect((await waitForChildView(b, runId, isTerminal)).status).toBe('completed');
      const rows = await expectSound(db, verifier, runId);
      expect(typesOf(rows).filter((t) => t === 'prediction.submitting')).toHaveLength(1);
    }
    for (const m of [m1, m2, m3]) expect(createsFor(fake, m)).toHaveLength(1);
    await b.kill();
  }, 60_000);

  it('a kill right after a commit (before its work ran) is recovered once the lease expires', async () => {
    const mark = marker('after-commit');
    const a = await spawnHostChild(env({ NODE_ID: 'commit-a', HITL_FAULT_POINT: 'after_commit' }));
    const runId = await createInChild(a, db, { policy: 'auto' }, replicateInput(mark));
    expect(await a.exited).toBe('SIGKILL');
    // The model's schema lookup is I/O: the creation commits alone and the lookup is its work.
    const before = await verifier.read(runId);
    expect(before?.seq).toBe(1);

    const b = await spawnHostChild(env({ NODE_ID: 'commit-b' }));
    expect((await waitForChildView(b, runId, isTerminal)).status).toBe('completed');
    const rows = await expectSound(db, verifier, runId);
    expect(typesOf(rows).slice(0, 3)).toEqual(['run.created', 'run.recovered', 'capabilities.reported']);
    expect(rows.find((r) => r.type === 'run.recovered')?.payload).toMatchObject({ node: 'commit-b' });
    expect(createsFor(fake, mark)).toHaveLength(1);
    await b.kill();
  }, 60_000);

  it('a kill right after a commit that logged a submission intent goes to error_recovery, never sends', async () => {
    const mark = marker('after-intent');
    // A schema in the config: every step up to the intent needs no I/O and commits with the creation.
    const input = {
      prompt: `a red fox (${mark})`,
      agent_tool_config: {
        'replicate-agent-tool': {
          data: { name: 'acme/painter', latest_version: { id: 'ver-painter-1', openapi_schema: OPENAPI } },
        },
      },
    };
    const a = await spawnHostChild(env({ NODE_ID: 'intent-a', HITL_FAULT_POINT: 'after_commit' }));
    const runId = await createInChild(a, db, { policy: 'auto' }, input);
    expect(await a.exited).toBe('SIGKILL');
    expect(typesOf(await eventsOf(db, runId)).at(-1)).toBe('prediction.submitting');
    const b = await spawnHostChild(env({ NODE_ID: 'intent-b' }));
    const view = await waitForChildView(b, runId, isStatus('awaiting_human'));
    expect(approvalOf(view).checkpoint_type).toBe('error_recovery');
    expect(view.error).toMatchObject({ code: 'submission_outcome_unknown' });
    expect(createsFor(fake, mark)).toHaveLength(0);
    await b.decide(runId, approvalOf(view).approval_id, 'retry');
    expect((await waitForChildView(b, runId, isTerminal)).status).toBe('completed');
    await expectSound(db, verifier, runId);
    expect(createsFor(fake, mark)).toHaveLength(1);
    await b.kill();
  }, 60_000);

  it('a kill after the create request but before its id was logged goes to error_recovery, never resubmits', async () => {
    const mark = marker('after-submit');
    const a = await spawnHostChild(env({ NODE_ID: 'submit-a', HITL_FAULT_POINT: 'after_submit_request' }));
    const runId = await createInChild(a, db, { policy: 'auto' }, replicateInput(mark));
    expect(await a.exited).toBe('SIGKILL');
    expect(createsFor(fake, mark)).toHaveLength(1);

    const b = await spawnHostChild(env({ NODE_ID: 'submit-b' }));
    const view = await waitForChildView(b, runId, isStatus('awaiting_human'));
    expect(approvalOf(view).checkpoint_type).toBe('error_recovery');
    expect(view.current_step).toBe('api_call');
    expect(view.error).toMatchObject({ code: 'submission_outcome_unknown', step: 'api_call' });
    // Nothing is resent on its own, however long we wait.
    await new Promise((r) => setTimeout(r, 1500));
    expect(createsFor(fake, mark)).toHaveLength(1);
    const rows = await expectSound(db, verifier, runId);
    expect(typesOf(rows)).toEqual([
      'run.created',
      'capabilities.reported',
      'payload.built',
      'prediction.submitting',
      'run.recovered',
      'prediction.error',
      'approval.opened',
    ]);

    // A human who knows better may send it again.
    await b.decide(runId, approvalOf(view).approval_id, 'retry');
    expect((await waitForChildView(b, runId, isTerminal)).status).toBe('completed');
    expect(createsFor(fake, mark)).toHaveLength(2);
    await expectSound(db, verifier, runId);
    await b.kill();
  }, 60_000);

  it('a submission slower than the lease keeps its lease: no node declares its outcome unknown', async () => {
    const mark = marker('slow-submit');
    const opts = { leaseMs: 500, timers: { tickMs: 30, recoveryMs: 100, pollMs: 30 } };
    const slow = testHost(db, {
      node: 'slow',
      extra: { ...opts, providers: slowCreates(fake.url, 1500) },
    }).host;
    const other = testHost(db, { replicateUrl: fake.url, node: 'other', extra: opts }).host;
    slow.start();
    other.start();
    try {
      const run = await createRun(slow, { policy: 'auto' }, replicateInput(mark));
      const runId = run.snapshot.context.run_id;
      expect((await waitForView(slow, runId, isTerminal)).status).toBe('completed');
      const rows = await expectSound(db, verifier, runId);
      expect(typesOf(rows)).not.toContain('run.recovered');
      expect(typesOf(rows)).not.toContain('prediction.error');
      expect(createsFor(fake, mark)).toHaveLength(1);
    } finally {
      await Promise.all([slow.stop(2000), other.stop(2000)]);
    }
  }, 30_000);
});
