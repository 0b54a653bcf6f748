import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../persistence/embedded-postgres.ts';
import { connectRedis, createRedisBus, createRedisCache } from '../../persistence/redis.ts';
import type { Bus, SnapshotCache } from '../../persistence/types.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { createRun, isStatus, testHost, waitForView } from '../support/host.ts';

let db: TestDatabase;
let cache: SnapshotCache;
let bus: Bus;
let h: ReturnType<typeof testHost>;

beforeAll(async () => {
  db = await createTestDatabase();
  // A port nothing listens on: Redis is "down" for the whole file.
  const url = `redis://127.0.0.1:${await freePort()}`;
  cache = createRedisCache(connectRedis(url, 'down-cache'), { prefix: 'hitl-down:', ttlSeconds: 60 });
  bus = createRedisBus(url, { prefix: 'hitl-down:' });
  h = testHost(db, { cache, bus });
  h.host.start();
});
afterAll(async () => {
  await h.host.stop(1000);
  await cache.close();
  await bus.close();
  await db.drop();
});

describe('a node whose Redis is down', () => {
  it('still accepts writes, reads from Postgres, and runs to completion', async () => {
    const run = await createRun(h.host, { policy: 'require_human', allowed_steps: ['payload_review'] });
    const runId = run.snapshot.context.run_id;
    const waiting = await waitForView(h.host, runId, isStatus('awaiting_human'));
    const approvalId = (waiting.approval as { approval_id: string }).approval_id;
    await h.host.decide(runId, { approval_id: approvalId, action: 'approve' }, 'user:u1');
    const done = await waitForView(h.host, runId, isStatus('completed'));
    expect(done.final_result).toEqual({ prompt: 'a red fox in the snow' });
    expect((await h.host.verify(runId)).consistent).toBe(true);
  });

  it('reports the cache and the fan-out as unhealthy while Postgres is healthy', async () => {
    expect(await h.host.health()).toEqual({ postgres: true, cache: false, bus: false });
  });
});
