import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis, createRedisBus, createRedisCache } from '../../persistence/redis.ts';
import type { Bus, SnapshotCache } from '../../persistence/types.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { clearRedisPrefix, describeWithRedis } from '../support/redis.ts';
import { awaitEnd, createEchoRun, openApproval, type TestApp, testApp } from './support.ts';

/** Two nodes behind "a load balancer": one Postgres, one Redis, no sticky sessions (SPEC §8). */
describeWithRedis('two nodes on Redis', (redis) => {
  let db: TestDatabase;
  const stores: Array<{ cache: SnapshotCache; bus: Bus }> = [];
  let a: TestApp;
  let b: TestApp;

  function node(name: string): TestApp {
    const cache = createRedisCache(connectRedis(redis.url, `test-${name}`), {
      prefix: redis.prefix,
      ttlSeconds: 60,
    });
    const bus = createRedisBus(redis.url, { prefix: redis.prefix, connectionName: `test-${name}` });
    stores.push({ cache, bus });
    return testApp(db, { cache, bus, node: name });
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    a = node('node-a');
    b = node('node-b');
    await new Promise((r) => setTimeout(r, 200));
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    for (const s of stores) await Promise.all([s.cache.close(), s.bus.close()]);
    await clearRedisPrefix(redis);
    await db.drop();
  });

  describe('HTTP on either node', () => {
    it('reports Redis health in /readyz', async () => {
      for (const n of [a, b]) {
        const res = await n.call('GET', '/readyz', { token: null });
        expect(res.json).toEqual({ status: 'ready', postgres: true, cache: true, bus: true });
      }
    });

    it('long-polls on B for a run created on A, decides on B, and A reads the decision at once', async () => {
      const id = await createEchoRun(a, { policy: 'require_human', allowed_steps: ['payload_review'] });
      const waited = await b.call('GET', `/hitl/runs/${id}?wait_for=awaiting_human&timeout=10`);
      expect(waited.json.status).toBe('awaiting_human');
      const decided = await b.call('POST', `/hitl/run/${id}/approve`, {
        body: { approval_id: openApproval(waited.json).approval_id, action: 'approve' },
      });
      expect(decided.status).toBe(200);
      const onA = await a.call('GET', `/hitl/runs/${id}`);
      expect(onA.json.seq).toBeGreaterThanOrEqual(Number(waited.json.seq) + 1);
      expect(onA.json.approval).toBeNull();
      expect((await awaitEnd(a, id)).status).toBe('completed');
      expect((await b.call('GET', `/hitl/runs/${id}/verify`)).json.consistent).toBe(true);
    });

    it('answers a standalone approval long-poll on A when B decides it', async () => {
      const created = await a.call('POST', '/hitl/approvals', {
        body: { action_description: 'send the email' },
      });
      const id = String(created.json.approval_id);
      const waiting = a.call('GET', `/hitl/approvals/${id}?wait=10`);
      await new Promise((r) => setTimeout(r, 100));
      await b.call('POST', `/hitl/approvals/${id}/respond`, { body: { action: 'approve' } });
      const started = Date.now();
      expect((await waiting).json.status).toBe('approved');
      expect(Date.now() - started).toBeLessThan(1500);
    });
  });
});
