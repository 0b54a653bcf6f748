import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HitlError } from '../../actors/errors.ts';
import type { RunHost } from '../../actors/run-host.ts';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../../persistence/embedded-postgres.ts';
import { migrate } from '../../persistence/migrate.ts';
import { connectPostgres } from '../../persistence/postgres.ts';
import type { TestDatabase } from '../support/db.ts';
import {
  approvalOf,
  createsFor,
  eventsOf,
  expectSound,
  marker,
  replicateInput,
  slowCreates,
} from '../support/durability.ts';
import { type FakeReplicate, startFakeReplicate } from '../support/fake-replicate.ts';
import { createRun, isStatus, testHost, waitForView } from '../support/host.ts';

// A PostgreSQL of this file's own (never the machine's), so it can be stopped and started again.
let dir: string;
let pg: EmbeddedPostgres;
let sql: Sql; // the test's own look at the tables
let hostSql: Sql; // the host's pool: never shared with the test's queries
let db: TestDatabase;
let fake: FakeReplicate;
let host: RunHost;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hitl-outage-'));
  pg = await startEmbeddedPostgres({ dataDir: dir });
  sql = connectPostgres(pg.url, { max: 4, connectTimeout: 2 });
  hostSql = connectPostgres(pg.url, { max: 10, connectTimeout: 2 });
  await migrate(sql);
  db = { name: 'hitl', url: pg.url, sql, drop: async () => undefined };
  fake = await startFakeReplicate();
  host = testHost({ ...db, sql: hostSql }, { replicateUrl: fake.url }).host;
  host.start();
}, 120_000);
afterAll(async () => {
  await host?.stop(1000);
  await sql?.end({ timeout: 2 }).catch(() => undefined);
  await hostSql?.end({ timeout: 2 }).catch(() => undefined);
  await pg?.stop().catch(() => undefined);
  await fake?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

const isTerminal = (v: Record<string, unknown>) =>
  ['completed', 'failed', 'cancelled', 'expired'].includes(String(v.status));

/** The stored state of a run that a failed call must leave as it was. */
async function recordOf(runId: string) {
  const [run] = await sql<{ seq: number; status: string; current_step: string }[]>`
    select seq, status, current_step from runs where run_id = ${runId}`;
  const [counts] = await sql<{ runs: number; approvals: number; timers: number }[]>`
    select (select count(*)::int from runs) as runs,
           (select count(*)::int from approvals where run_id = ${runId}) as approvals,
           (select count(*)::int from timers where run_id = ${runId}) as timers`;
  return { run, counts, events: await eventsOf(db, runId) };
}

/** Waits until `pool` answers (a pool reconnects at its next attempt); how long that took, in ms. */
async function answering(pool: Sql, withinMs: number): Promise<number> {
  const start = Date.now();
  for (;;) {
    try {
      await pool`select 1`;
      return Date.now() - start;
    } catch (err) {
      if (Date.now() - start > withinMs) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/**
 * Starts Postgres again and waits until the test's pool and the host's answer. Between two
 * connection attempts a pool answers at once with the last failure, so the host's own pool is
 * waited for too: it must be back within a second (its retries are at most 0.25 s apart).
 */
async function restart(): Promise<void> {
  pg = await startEmbeddedPostgres({ dataDir: dir, port: pg.port });
  await answering(sql, 10_000);
  expect(await answering(hostSql, 5000)).toBeLessThan(1000);
}

const unavailable = (p: Promise<unknown>) =>
  expect(p).rejects.toSatisfy((err) => err instanceof HitlError && err.code === 'unavailable');

describe('when Postgres stops for a moment', () => {
  it('creating and deciding fail with unavailable, nothing half-written remains, and the run completes after', async () => {
    const mark = marker('outage');
    const run = await createRun(
      host,
      { policy: 'require_human', allowed_steps: ['information_review'] },
      replicateInput(mark),
    );
    const runId = run.snapshot.context.run_id;
    const open = approvalOf(await waitForView(host, runId, isStatus('awaiting_human')));
    const before = await recordOf(runId);

    await pg.stop();
    await unavailable(host.decide(runId, { approval_id: open.approval_id, action: 'approve' }, 'user:u1'));
    await unavailable(createRun(host, { policy: 'auto' }, replicateInput(marker('refused'))));
    await unavailable(host.control(runId, 'cancel', 'service:test0000'));
    await restart();

    expect(await recordOf(runId)).toEqual(before);
    await host.decide(runId, { approval_id: open.approval_id, action: 'approve' }, 'user:u1');
    expect((await waitForView(host, runId, isTerminal)).status).toBe('completed');
    await expectSound(db, host, runId);
    expect(createsFor(fake, mark)).toHaveLength(1);
  }, 60_000);

  it('a prediction that finishes during the outage is picked up when Postgres is back', async () => {
    const mark = marker('in-flight');
    fake.script({ kind: 'succeed', afterMs: 1000 });
    const run = await createRun(host, { policy: 'auto' }, replicateInput(mark));
    const runId = run.snapshot.context.run_id;
    await waitForView(host, runId, (v) => v.prediction !== null);

    await pg.stop();
    // The prediction finishes at the provider while every poll and timer claim fails.
    await new Promise((r) => setTimeout(r, 1500));
    expect(fake.predictions.size).toBeGreaterThan(0);
    await restart();

    // Within a few seconds of Postgres coming back (a stalled pool would hold the timers far longer).
    const back = Date.now();
    expect((await waitForView(host, runId, isTerminal, 15_000)).status).toBe('completed');
    expect(Date.now() - back).toBeLessThan(5000);
    const rows = await expectSound(db, host, runId);
    expect(rows.filter((r) => r.type === 'prediction.succeeded')).toHaveLength(1);
    expect(createsFor(fake, mark)).toHaveLength(1);
  }, 60_000);

  it('a prediction created while Postgres is down is logged when it is back, never declared unknown', async () => {
    const mark = marker('created-in-outage');
    const ownSql = connectPostgres(pg.url, { max: 4, connectTimeout: 2 });
    // The create request takes 1.5 s; Postgres is down when its answer is to be logged.
    const slow = testHost(
      { ...db, sql: ownSql },
      { node: 'slow-create', extra: { leaseMs: 10_000, providers: slowCreates(fake.url, 1500) } },
    ).host;
    slow.start();
    try {
      const run = await createRun(slow, { policy: 'auto' }, replicateInput(mark));
      const runId = run.snapshot.context.run_id;
      await waitForEvent(runId, 'prediction.submitting');
      await pg.stop();
      await new Promise((r) => setTimeout(r, 2500));
      expect(createsFor(fake, mark)).toHaveLength(1);
      await restart();

      expect((await waitForView(slow, runId, isTerminal, 20_000)).status).toBe('completed');
      const rows = await expectSound(db, host, runId);
      expect(rows.map((r) => r.type)).not.toContain('prediction.error');
      expect(createsFor(fake, mark)).toHaveLength(1);
    } finally {
      await slow.stop(2000);
      await ownSql.end({ timeout: 2 }).catch(() => undefined);
    }
  }, 60_000);
});

async function waitForEvent(runId: string, type: string): Promise<void> {
  for (let i = 0; i < 250; i++) {
    if ((await eventsOf(db, runId)).some((r) => r.type === type)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no ${type} within 5 s`);
}
