import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createMemoryBus, createMemoryCache, createMemoryHub } from '../../persistence/memory.ts';
import { connectRedis, createRedisBus, createRedisCache, redisReady } from '../../persistence/redis.ts';
import type { Json } from '../../persistence/types.ts';
import { busContract, eventually, snapshotCacheContract } from '../support/cache-contract.ts';
import { clearRedisPrefix, describeWithRedis } from '../support/redis.ts';

describe('memory cache', () => {
  snapshotCacheContract(async () => createMemoryCache({ maxEntries: 100 }));

  it('evicts the least recently used entry beyond maxEntries', async () => {
    const cache = createMemoryCache({ maxEntries: 2 });
    await cache.set('a', 1, 'a');
    await cache.set('b', 1, 'b');
    await cache.get('a');
    await cache.set('c', 1, 'c');
    expect(await cache.get('b')).toBeNull();
    expect(await cache.get('a')).toEqual({ version: 1, value: 'a' });
    expect(await cache.get('c')).toEqual({ version: 1, value: 'c' });
  });
});

describe('memory bus', () => {
  busContract(async () => {
    const bus = createMemoryBus();
    return { a: bus, b: bus, close: () => bus.close() };
  });
});

describe('memory hub (two nodes in one process)', () => {
  busContract(async () => {
    const hub = createMemoryHub();
    const a = hub.bus();
    const b = hub.bus();
    return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) };
  });

  it('a subscriber that ignores its own bus hears the other bus; the others hear both', async () => {
    const hub = createMemoryHub();
    const a = hub.bus();
    const b = hub.bus();
    const others: Json[] = [];
    const all: Json[] = [];
    a.subscribe('run.o', (m) => others.push(m), undefined, { own: false });
    a.subscribe('run.o', (m) => all.push(m));
    const sent = { from: 'a', list: [1] };
    await a.publish('run.o', sent);
    await b.publish('run.o', { from: 'b' });
    await eventually(() => all.length === 2);
    expect(all).toEqual([{ from: 'a', list: [1] }, { from: 'b' }]);
    expect(others).toEqual([{ from: 'b' }]);
    // A copy, not the sender's object.
    expect(all[0]).not.toBe(sent);
    await b.close();
    await a.publish('run.o', 'after b closed');
    await eventually(() => all.length === 3);
    expect(others).toEqual([{ from: 'b' }]);
    await a.close();
  });

  it('nothing is delivered inside publish, and nothing after unsubscribing before delivery', async () => {
    const bus = createMemoryBus();
    const got: Json[] = [];
    const off = bus.subscribe('run.d', (m) => got.push(m));
    await bus.publish('run.d', 1);
    expect(got).toEqual([]);
    await eventually(() => got.length === 1);
    const pending = bus.publish('run.d', 2);
    off();
    await pending;
    await new Promise((r) => setImmediate(r));
    expect(got).toEqual([1]);
    await bus.close();
  });
});

describeWithRedis('redis cache', (redis) => {
  const clients: Redis[] = [];
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await clearRedisPrefix(redis);
  });

  snapshotCacheContract(async () => {
    const client = connectRedis(redis.url);
    await redisReady(client);
    return createRedisCache(client, { prefix: redis.prefix, ttlSeconds: 60 });
  });

  it('treats garbage and foreign shapes as a miss and overwrites them', async () => {
    const raw = new Redis(redis.url);
    clients.push(raw);
    const client = connectRedis(redis.url);
    await redisReady(client);
    const cache = createRedisCache(client, { prefix: redis.prefix, ttlSeconds: 60 });
    for (const garbage of ['not json', '{"version":"7","value":1}', '{"version":7}', '[1,2]']) {
      const id = randomUUID();
      await raw.set(`${redis.prefix}entry:${id}`, garbage);
      expect(await cache.get(id)).toBeNull();
      expect(await cache.set(id, 1, 'fresh')).toBe(true);
      expect(await cache.get(id)).toEqual({ version: 1, value: 'fresh' });
    }
    await cache.close();
  });

  it('sets a TTL on every write', async () => {
    const raw = new Redis(redis.url);
    clients.push(raw);
    const client = connectRedis(redis.url);
    await redisReady(client);
    const cache = createRedisCache(client, { prefix: redis.prefix, ttlSeconds: 30 });
    const id = randomUUID();
    await cache.set(id, 1, 'x');
    const ttl = await raw.ttl(`${redis.prefix}entry:${id}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(30);
    await cache.close();
  });
});

describeWithRedis('redis cache: long strings', (redis) => {
  const clients: Redis[] = [];
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await clearRedisPrefix(redis);
  });
  const open = async (ttlSeconds = 60) => {
    const raw = new Redis(redis.url);
    const client = connectRedis(redis.url);
    clients.push(raw, client);
    await redisReady(client);
    return { raw, cache: createRedisCache(client, { prefix: redis.prefix, ttlSeconds }) };
  };
  const prompt = 'p'.repeat(200_000);
  const envelope = (step: number) => ({ input: { prompt }, payload: { prompt }, history: [prompt], step });

  it('stores a long string once per run, not in every entry, and renews it with each entry', async () => {
    const { raw, cache } = await open(40);
    const id = randomUUID();
    const blobs = async () => raw.keys(`${redis.prefix}blob:${id}:*`);
    for (let seq = 1; seq <= 4; seq++) {
      expect(await cache.set(id, seq, { envelope: envelope(seq), created_by: 'svc' })).toBe(true);
      // The entry holds a reference: kilobytes, not the prompt three times.
      expect(await raw.strlen(`${redis.prefix}entry:${id}`)).toBeLessThan(1_000);
      expect(await blobs()).toHaveLength(1);
      expect(await cache.get(id)).toEqual({
        version: seq,
        value: { envelope: envelope(seq), created_by: 'svc' },
      });
    }
    const [blob] = await blobs();
    expect(await raw.strlen(blob as string)).toBe(prompt.length);
    await raw.expire(blob as string, 5);
    // The renewal is sent before the entry on the same connection: done when the entry is.
    await cache.set(id, 5, { envelope: envelope(5), created_by: 'svc' });
    expect(await raw.ttl(blob as string)).toBeGreaterThan(30);
  });

  it('misses an entry whose blob is gone, and sends the blob again with the next entry', async () => {
    const { raw, cache } = await open();
    const id = randomUUID();
    await cache.set(id, 1, { envelope: envelope(1) });
    const [blob] = await raw.keys(`${redis.prefix}blob:${id}:*`);
    await raw.del(blob as string);
    expect(await cache.get(id)).toBeNull();
    await cache.set(id, 2, { envelope: envelope(2) });
    // The renewal found it gone; the entry after that sends it again.
    await cache.set(id, 3, { envelope: envelope(3) });
    expect(await cache.get(id)).toEqual({ version: 3, value: { envelope: envelope(3) } });
  });

  it('is not read by the keys of earlier versions (`snapshot:`), whose nodes would not resolve references', async () => {
    const { raw, cache } = await open();
    const id = randomUUID();
    await cache.set(id, 1, { envelope: envelope(1) });
    expect(await raw.exists(`${redis.prefix}snapshot:${id}`)).toBe(0);
    expect(await raw.exists(`${redis.prefix}entry:${id}`)).toBe(1);
  });
});

describeWithRedis('redis bus', (redis) => {
  const makeBus = (connectionName?: string) =>
    createRedisBus(redis.url, { prefix: redis.prefix, connectionName });

  busContract(async () => {
    const a = makeBus();
    const b = makeBus();
    await eventually(() => a.healthy() && b.healthy());
    return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) };
  });

  it('calls onReconnect after its subscriber connection comes back, and delivers again', async () => {
    const name = `hitl-test-${randomUUID()}`;
    const listening = makeBus(name);
    const sending = makeBus();
    const admin = new Redis(redis.url);
    try {
      await eventually(() => listening.healthy() && sending.healthy());
      const got: Json[] = [];
      let reconnects = 0;
      listening.subscribe(
        'run.r',
        (m) => got.push(m),
        () => reconnects++,
      );
      await eventually(() => {
        void sending.publish('run.r', 'before');
        return got.length > 0;
      });
      // Kill exactly our subscriber connection, found by its client name.
      const list = String(await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub'));
      const line = list.split('\n').find((l) => l.includes(` name=${name}:subscribe `));
      const id = /\bid=(\d+)/.exec(line ?? '')?.[1];
      expect(id).toBeDefined();
      await admin.call('CLIENT', 'KILL', 'ID', id ?? '');
      await eventually(() => reconnects === 1, 5_000);
      got.length = 0;
      await sending.publish('run.r', 'after');
      await eventually(() => got.includes('after'));
    } finally {
      admin.disconnect();
      await Promise.all([listening.close(), sending.close()]);
    }
  });

  it('a subscriber that ignores its own bus hears the other bus; the others hear both', async () => {
    const a = makeBus();
    const b = makeBus();
    try {
      await eventually(() => a.healthy() && b.healthy());
      const others: Json[] = [];
      const all: Json[] = [];
      a.subscribe('run.o', (m) => others.push(m), undefined, { own: false });
      a.subscribe('run.o', (m) => all.push(m));
      await eventually(() => {
        void a.publish('run.o', 'warm-up');
        return all.length > 0;
      });
      await a.publish('run.o', { from: 'a' });
      await b.publish('run.o', { from: 'b' });
      await eventually(() => all.some((m) => JSON.stringify(m) === '{"from":"b"}'));
      expect(all).toContainEqual({ from: 'a' });
      expect(others).toEqual([{ from: 'b' }]);
      // Its own large, non-ASCII message is told apart by its bytes; the same content from the
      // other bus is still heard once.
      const big = { text: `é\u{1F600}${'x'.repeat(300_000)}` };
      await a.publish('run.o', big);
      await b.publish('run.o', big);
      await eventually(() => all.filter((m) => JSON.stringify(m) === JSON.stringify(big)).length === 2);
      expect(others).toEqual([{ from: 'b' }, big]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
