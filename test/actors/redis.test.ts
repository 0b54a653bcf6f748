import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunHost } from '../../actors/run-host.ts';
import type { HostMessage } from '../../actors/run-messages.ts';
import { freePort } from '../../persistence/embedded-postgres.ts';
import { connectRedis, createRedisBus, createRedisCache, redisReady } from '../../persistence/redis.ts';
import type { Bus, SnapshotCache } from '../../persistence/types.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { approvalOf, closingRows, eventually, expectSound } from '../support/durability.ts';
import { createRun, isStatus, testHost, waitForView } from '../support/host.ts';
import { clearRedisPrefix, describeWithRedis } from '../support/redis.ts';

const isTerminal = (v: Record<string, unknown>) =>
  ['completed', 'failed', 'cancelled', 'expired'].includes(String(v.status));

describeWithRedis('two nodes sharing Redis for cache and fan-out', (redis) => {
  let db: TestDatabase;
  let a: RunHost;
  let b: RunHost;
  let raw: Redis;
  const closers: Array<{ close(): Promise<void> }> = [];
  const hosts: RunHost[] = [];

  const cacheClients: Redis[] = [];

  function node(name: string, cache?: SnapshotCache): RunHost {
    let c = cache;
    if (!c) {
      const client = connectRedis(redis.url, `${name}:cache`);
      cacheClients.push(client);
      c = createRedisCache(client, { prefix: redis.prefix, ttlSeconds: 60 });
    }
    const bus: Bus = createRedisBus(redis.url, { prefix: redis.prefix, connectionName: name });
    closers.push(c, bus);
    const { host } = testHost(db, { node: name, cache: c, bus });
    hosts.push(host);
    host.start();
    return host;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    raw = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    a = node('redis-a');
    b = node('redis-b');
    // The cache client refuses commands until connected (no offline queue): a write before that
    // is skipped by design, and the tests below expect the first commit's entry.
    await Promise.all(cacheClients.map((client) => redisReady(client)));
  });
  afterAll(async () => {
    await Promise.all(hosts.map((h) => h.stop(1000)));
    await Promise.all(closers.map((c) => c.close()));
    raw?.disconnect();
    await clearRedisPrefix(redis);
    await db?.drop();
  });

  const key = (runId: string) => `${redis.prefix}entry:${runId}`;

  it('Redis emptied while a run waits for a human: every decision still lands and nothing is lost', async () => {
    const seen: HostMessage[] = [];
    const off = a.subscribe((m) => seen.push(m));
    try {
      const run = await createRun(a, { policy: 'require_human' });
      const runId = run.snapshot.context.run_id;
      const deciders = [b, a, b];
      const approvals: string[] = [];
      for (const [i, checkpoint] of ['information_review', 'payload_review', 'response_review'].entries()) {
        const open = approvalOf(await waitForView(deciders[(i + 1) % 3]!, runId, isStatus('awaiting_human')));
        expect(open.checkpoint_type).toBe(checkpoint);
        // The cache entry is written right after the commit is acknowledged.
        await eventually('the cache entry', async () =>
          (await raw.exists(key(runId))) === 1 ? true : undefined,
        );
        await clearRedisPrefix(redis);
        expect(await raw.exists(key(runId))).toBe(0);
        await deciders[i]!.decide(runId, { approval_id: open.approval_id, action: 'approve' }, 'user:u1');
        approvals.push(open.approval_id);
      }
      expect((await waitForView(a, runId, isTerminal)).status).toBe('completed');
      const rows = await expectSound(db, a, runId);
      for (const id of approvals)
        expect(closingRows(rows, id).map((r) => r.type)).toEqual(['review.approve']);
      // Fan-out kept working: node a heard node b's decisions through Redis.
      const approvedByB = () =>
        seen
          .flatMap((m) => (m.kind === 'run' && m.node === 'redis-b' ? m.events : []))
          .filter((e) => e.type === 'review.approve')
          .map((e) => e.payload.approval_id);
      // b's last message may still be on its way through Redis when a reads the run as completed.
      await eventually("b's decisions heard on a", async () =>
        approvedByB().length >= 2 ? true : undefined,
      );
      expect(approvedByB()).toEqual([approvals[0], approvals[2]]);
    } finally {
      off();
    }
  });

  it('an older entry written after an acknowledged change does not hide it from reads on any node', async () => {
    const run = await createRun(a, {
      policy: 'require_human',
      allowed_steps: ['information_review', 'payload_review'],
    });
    const runId = run.snapshot.context.run_id;
    const first = approvalOf(await waitForView(b, runId, isStatus('awaiting_human')));
    const old = await eventually('the cache entry', async () => (await raw.get(key(runId))) ?? undefined);
    const oldVersion = (JSON.parse(old) as { version: number }).version;

    await a.decide(runId, { approval_id: first.approval_id, action: 'approve' }, 'user:u1');
    // Let the run settle at its next checkpoint, so nothing writes the entry again.
    await waitForView(
      a,
      runId,
      (v) => v.status === 'awaiting_human' && approvalOf(v).checkpoint_type === 'payload_review',
    );
    const acked = {
      seq: (await db.sql<{ seq: number }[]>`select seq from runs where run_id = ${runId}`)[0]!.seq,
    };
    // A writer that lagged behind (or the entry was evicted and refilled late) leaves the older
    // version in Redis: the compare-and-set cannot refuse it once the newer entry is gone.
    await clearRedisPrefix(redis);
    const lateClient = connectRedis(redis.url, 'late-writer');
    const late = createRedisCache(lateClient, { prefix: redis.prefix, ttlSeconds: 60 });
    closers.push(late);
    await redisReady(lateClient);
    expect(await late.set(runId, oldVersion, (JSON.parse(old) as { value: never }).value)).toBe(true);

    for (const host of [a, b]) {
      const read = await host.read(runId);
      expect(read?.seq).toBeGreaterThanOrEqual(acked.seq);
      expect(host.view(read!).approval).not.toMatchObject({ approval_id: first.approval_id });
    }
  });

  it('a node cut off from Redis still commits, and the others do not read the entry it could not update', async () => {
    const deadCache = createRedisCache(connectRedis(`redis://127.0.0.1:${await freePort()}`, 'cut-off'), {
      prefix: redis.prefix,
      ttlSeconds: 60,
    });
    const cutOff = node('redis-cut-off', deadCache);
    const run = await createRun(a, {
      policy: 'require_human',
      allowed_steps: ['information_review', 'payload_review'],
    });
    const runId = run.snapshot.context.run_id;
    const first = approvalOf(await waitForView(b, runId, isStatus('awaiting_human')));
    expect(await raw.exists(key(runId))).toBe(1);

    const acked = await cutOff.decide(
      runId,
      { approval_id: first.approval_id, action: 'approve' },
      'user:u1',
    );
    for (const host of [a, b]) {
      const read = await host.read(runId);
      expect(read?.seq).toBeGreaterThanOrEqual(acked.seq);
    }
    const next = approvalOf(await waitForView(b, runId, isStatus('awaiting_human')));
    expect(next.checkpoint_type).toBe('payload_review');
    await b.decide(runId, { approval_id: next.approval_id, action: 'approve' }, 'user:u1');
    expect((await waitForView(a, runId, isTerminal)).status).toBe('completed');
    await expectSound(db, a, runId);
  });
});
