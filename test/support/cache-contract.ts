import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Bus, Json, SnapshotCache } from '../../persistence/types.ts';

/** The `SnapshotCache` contract, run against every adapter. */
export function snapshotCacheContract(make: () => Promise<SnapshotCache>): void {
  let cache: SnapshotCache;
  beforeEach(async () => {
    cache = await make();
  });
  afterEach(async () => {
    await cache.close();
  });

  it('misses an entry never set', async () => {
    expect(await cache.get(randomUUID())).toBeNull();
  });

  it('stores a first version and reads it back as a copy', async () => {
    const id = randomUUID();
    const value = { state: 'running', list: [1, 'a', null, { deep: true }] };
    expect(await cache.set(id, 3, value)).toBe(true);
    value.state = 'mutated after set';
    expect(await cache.get(id)).toEqual({
      version: 3,
      value: { state: 'running', list: [1, 'a', null, { deep: true }] },
    });
  });

  it('refuses an older or equal version and keeps the newer value', async () => {
    const id = randomUUID();
    await cache.set(id, 5, 'five');
    expect(await cache.set(id, 4, 'four')).toBe(false);
    expect(await cache.set(id, 5, 'five again')).toBe(false);
    expect(await cache.get(id)).toEqual({ version: 5, value: 'five' });
    expect(await cache.set(id, 6, 'six')).toBe(true);
    expect(await cache.get(id)).toEqual({ version: 6, value: 'six' });
  });

  it('lets only the newest of many concurrent writers stay', async () => {
    const id = randomUUID();
    await Promise.all([3, 9, 1, 7, 5].map((v) => cache.set(id, v, { v })));
    expect(await cache.get(id)).toEqual({ version: 9, value: { v: 9 } });
  });

  it('forgets a deleted entry, after which any version may be stored', async () => {
    const id = randomUUID();
    await cache.set(id, 5, 'five');
    await cache.del(id);
    expect(await cache.get(id)).toBeNull();
    expect(await cache.set(id, 1, 'one')).toBe(true);
    await cache.del(randomUUID());
  });

  it('reads back long strings and strings that look like its own references exactly', async () => {
    const id = randomUUID();
    const long = `${'x'.repeat(9000)}é\u{1F600}`;
    const value = {
      envelope: { input: { prompt: long }, payload: { prompt: long }, notes: ['\u0001hitl:blob:abc', long] },
      updated_at: '2026-12-03T00:00:00.000Z',
      created_by: '\u0001hitl:str:x',
    };
    expect(await cache.set(id, 1, value)).toBe(true);
    expect(await cache.get(id)).toEqual({ version: 1, value });
    const next = { ...value, envelope: { ...value.envelope, step: 2 } };
    expect(await cache.set(id, 2, next)).toBe(true);
    expect(await cache.get(id)).toEqual({ version: 2, value: next });
  });

  it('reports itself healthy', () => {
    expect(cache.healthy()).toBe(true);
  });
}

/** Two buses that should see each other's messages (the same one for in-process). */
export interface BusPair {
  a: Bus;
  b: Bus;
  close(): Promise<void>;
}

/** Waits until `check` holds, polling every 10 ms, for at most `ms`. */
export async function eventually(check: () => boolean, ms = 2_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The `Bus` contract, run against every adapter. */
export function busContract(make: () => Promise<BusPair>): void {
  let pair: BusPair;
  beforeEach(async () => {
    pair = await make();
  });
  afterEach(async () => {
    await pair.close();
  });

  it('delivers a message published on one bus to subscribers on the other', async () => {
    const got: Json[] = [];
    pair.b.subscribe('run.1', (m) => got.push(m));
    await settle(pair.b);
    await pair.a.publish('run.1', { type: 'approval.opened', seq: 2, list: [null, true] });
    await eventually(() => got.length === 1);
    expect(got).toEqual([{ type: 'approval.opened', seq: 2, list: [null, true] }]);
  });

  it('delivers to every subscriber of the channel and to nobody else', async () => {
    const first: Json[] = [];
    const second: Json[] = [];
    const elsewhere: Json[] = [];
    pair.b.subscribe('run.2', (m) => first.push(m));
    pair.b.subscribe('run.2', (m) => second.push(m));
    pair.b.subscribe('run.3', (m) => elsewhere.push(m));
    await settle(pair.b);
    await pair.a.publish('run.2', 'hello');
    await eventually(() => first.length === 1 && second.length === 1);
    await pair.a.publish('run.3', 'marker');
    await eventually(() => elsewhere.length === 1);
    expect(elsewhere).toEqual(['marker']);
  });

  it('stops delivering after unsubscribe, and one failing subscriber does not stop others', async () => {
    const kept: Json[] = [];
    const dropped: Json[] = [];
    const off = pair.b.subscribe('run.4', (m) => dropped.push(m));
    pair.b.subscribe('run.4', () => {
      throw new Error('subscriber bug');
    });
    pair.b.subscribe('run.4', (m) => kept.push(m));
    await settle(pair.b);
    off();
    await pair.a.publish('run.4', 1);
    await pair.a.publish('run.4', 2);
    await eventually(() => kept.length === 2);
    expect(dropped).toEqual([]);
    expect(pair.a.healthy() && pair.b.healthy()).toBe(true);
  });
}

// Redis subscriptions are asynchronous; a round trip on the bus tells when they are active.
async function settle(bus: Bus): Promise<void> {
  const channel = `settle.${randomUUID()}`;
  let seen = false;
  const off = bus.subscribe(channel, () => {
    seen = true;
  });
  await eventually(() => {
    void bus.publish(channel, 'ping');
    return seen;
  });
  off();
}
