import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../persistence/embedded-postgres.ts';
import { connectPostgres, createPostgresStore } from '../../persistence/postgres.ts';
import { connectRedis, createRedisBus, createRedisCache } from '../../persistence/redis.ts';
import { StoreError } from '../../persistence/types.ts';
import { commitOf } from '../support/store-fixtures.ts';

describe('when Postgres cannot be reached', () => {
  it('fails every call with unavailable, without the URL or password in the message', async () => {
    const port = await freePort();
    const store = createPostgresStore(connectPostgres(`postgres://hitl:s3cret-pw@127.0.0.1:${port}/hitl`));
    try {
      const calls: Array<() => Promise<unknown>> = [
        () => store.ping(),
        () => store.getRun(randomUUID()),
        () => store.commit(commitOf(randomUUID(), 1)),
        () => store.claimDueTimers('n', 10, 1000),
      ];
      for (const call of calls) {
        const err = await call().then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(StoreError);
        expect(err).toMatchObject({ code: 'unavailable' });
        const message = err instanceof Error ? err.message : '';
        expect(message).not.toMatch(/s3cret|postgres:\/\//);
        expect(message).not.toContain(String(port));
      }
    } finally {
      await store.close();
    }
  });
});

describe('when Redis cannot be reached', () => {
  it('the cache fails soft: misses, refuses writes, swallows deletes, reports unhealthy', async () => {
    const port = await freePort();
    const cache = createRedisCache(connectRedis(`redis://127.0.0.1:${port}`), {
      prefix: 'x:',
      ttlSeconds: 5,
    });
    const started = Date.now();
    expect(await cache.get('r')).toBeNull();
    expect(await cache.set('r', 1, 'v')).toBe(false);
    await expect(cache.del('r')).resolves.toBeUndefined();
    expect(cache.healthy()).toBe(false);
    // Failing soft must also mean failing fast: no queueing until Redis comes back.
    expect(Date.now() - started).toBeLessThan(1_000);
    await cache.close();
  });

  it('the bus drops messages without throwing and reports unhealthy', async () => {
    const port = await freePort();
    const bus = createRedisBus(`redis://127.0.0.1:${port}`, { prefix: 'x:' });
    const off = bus.subscribe('c', () => undefined);
    await expect(bus.publish('c', { a: 1 })).resolves.toBeUndefined();
    expect(bus.healthy()).toBe(false);
    off();
    await bus.close();
  });
});
