import { describe, expect, it } from 'vitest';
import { createWaiters } from '../../server/waiters.ts';
import {
  awaitHuman,
  codeOf,
  createEchoRun,
  echoInput,
  listen,
  type TestApp,
  withTestApp,
} from '../server/support.ts';

/** SPEC §7: long-polls end with their client, and a node holds a bounded number of them. */

const waiters = createWaiters({ max: 120 });
let t: TestApp;
withTestApp(
  (app) => {
    t = app;
  },
  { app: { waiters, limits: { longPollMaxMs: 55_000 } } },
);

const HELD = { policy: 'require_human', allowed_steps: ['payload_review'] };

describe('long-polls', () => {
  it('100 dropped long-polls release their waiters (and their reads) at once', async () => {
    const id = await createEchoRun(t, HELD);
    await awaitHuman(t, id);
    const server = await listen(t.app);
    try {
      const aborts = Array.from({ length: 100 }, () => new AbortController());
      const requests = aborts.map((a, i) =>
        fetch(`${server.url}/hitl/runs/${id}${i % 2 ? '' : '/state'}?wait_for=terminal&timeout=55`, {
          headers: { authorization: 'Bearer test-service-key-0123456789' },
          signal: a.signal,
        }).catch(() => null),
      );
      await expect.poll(() => waiters.count(), { timeout: 20_000 }).toBe(100);
      for (const a of aborts) a.abort();
      await Promise.all(requests);
      await expect.poll(() => waiters.count(), { timeout: 10_000 }).toBe(0);
      const metrics = await t.call('GET', '/metrics');
      expect(metrics.text).toMatch(/^hitl_long_poll_waiters 0$/m);
    } finally {
      await server.close();
    }
  });

  it('beyond the bound, long-polls and /teams/run get 503 unavailable with Retry-After and create nothing', async () => {
    const id = await createEchoRun(t, HELD);
    await awaitHuman(t, id);
    const server = await listen(t.app);
    const abort = new AbortController();
    try {
      const holding = Array.from({ length: waiters.max }, () =>
        fetch(`${server.url}/hitl/runs/${id}?wait_for=terminal&timeout=55`, {
          headers: { authorization: 'Bearer test-service-key-0123456789' },
          signal: abort.signal,
        }).catch(() => null),
      );
      await expect.poll(() => waiters.count(), { timeout: 20_000 }).toBe(waiters.max);
      const refused = await t.call('GET', `/hitl/runs/${id}?wait_for=terminal&timeout=5`);
      expect([refused.status, codeOf(refused.json)]).toEqual([503, 'unavailable']);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      const before = (await t.call('GET', '/hitl/runs?limit=1')).json.total;
      const legacy = await t.call('POST', '/teams/run', { body: echoInput({ session_id: 'legacy' }) });
      expect([legacy.status, codeOf(legacy.json)]).toEqual([503, 'unavailable']);
      expect((await t.call('GET', '/hitl/runs?limit=1')).json.total).toBe(before);
      // A plain read is not a long-poll: it is answered.
      expect((await t.call('GET', `/hitl/runs/${id}`)).status).toBe(200);
      abort.abort();
      await Promise.all(holding);
      await expect.poll(() => waiters.count(), { timeout: 10_000 }).toBe(0);
    } finally {
      abort.abort();
      await server.close();
    }
  });
});
