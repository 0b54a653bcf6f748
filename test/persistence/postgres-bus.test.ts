import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectPostgres } from '../../persistence/postgres.ts';
import { createPostgresBus } from '../../persistence/postgres-bus.ts';
import type { Bus, Json } from '../../persistence/types.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

/** SPEC §8: without Redis, nodes on one Postgres fan out through LISTEN/NOTIFY. */

let db: TestDatabase;
const buses: Bus[] = [];
const pools: Array<{ end(o?: { timeout?: number }): Promise<void> }> = [];

beforeAll(async () => {
  db = await createTestDatabase();
  for (let i = 0; i < 2; i++) {
    // Each "node" has its own pool, as two processes would.
    const sql = connectPostgres(db.url, { max: 3 });
    pools.push(sql);
    buses.push(createPostgresBus(sql, { pruneEveryMs: 100, keepMs: 60_000 }));
  }
  for (let i = 0; i < 200 && !buses.every((b) => b.healthy()); i++)
    await new Promise((r) => setTimeout(r, 50));
});
afterAll(async () => {
  for (const b of buses) await b.close();
  for (const p of pools) await p.end({ timeout: 5 });
  await db.drop();
});

describe('the Postgres bus', () => {
  it('delivers messages of any size across nodes, in order, to every subscriber, once', async () => {
    const [a, b] = buses as [Bus, Bus];
    const got: Json[] = [];
    const alsoGot: Json[] = [];
    const offB = b.subscribe('c1', (m) => got.push(m));
    const offB2 = b.subscribe('c1', () => {
      throw new Error('a subscriber that throws');
    });
    const offB3 = b.subscribe('c1', (m) => alsoGot.push(m));
    const big = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 20; i++) await a.publish('c1', { i, big: i === 3 ? big : '' });
    await a.publish('other', { ignored: true });
    await expect.poll(() => got.length, { timeout: 10_000 }).toBe(20);
    expect(got.map((m) => (m as { i: number }).i)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect((got[3] as { big: string }).big).toHaveLength(64 * 1024);
    expect(alsoGot).toHaveLength(20);
    for (const off of [offB, offB2, offB3]) off();
  });

  it('delivers a node its own messages too (as Redis does), without reading them back', async () => {
    const [a] = buses as [Bus];
    const got: Json[] = [];
    const off = a.subscribe('self', (m) => got.push(m));
    await a.publish('self', { hello: 'me' });
    await expect.poll(() => got, { timeout: 10_000 }).toEqual([{ hello: 'me' }]);
    off();
  });

  it('messages published in one tick (a group commit) are written together and arrive in order', async () => {
    const [a, b] = buses as [Bus, Bus];
    const got: Json[] = [];
    const mine: Json[] = [];
    const offs = [b.subscribe('tick', (m) => got.push(m)), a.subscribe('tick', (m) => mine.push(m))];
    const before = await db.sql<{ n: string }[]>`select count(*)::text as n from bus_messages`;
    await Promise.all(Array.from({ length: 50 }, (_, i) => a.publish('tick', { i })));
    const after = await db.sql<{ n: string }[]>`select count(*)::text as n from bus_messages`;
    expect(Number(after[0]?.n) - Number(before[0]?.n)).toBe(50);
    const inOrder = Array.from({ length: 50 }, (_, i) => ({ i }));
    await expect.poll(() => got.length, { timeout: 10_000 }).toBe(50);
    expect(got).toEqual(inOrder);
    // The publishing node delivers its own from memory, in the same order.
    await expect.poll(() => mine.length, { timeout: 10_000 }).toBe(50);
    expect(mine).toEqual(inOrder);
    for (const off of offs) off();
  });

  it('a subscriber that ignores its own bus (as a host does) hears only the other node', async () => {
    const [a, b] = buses as [Bus, Bus];
    const others: Json[] = [];
    const all: Json[] = [];
    const offs = [
      a.subscribe('mixed', (m) => others.push(m), undefined, { own: false }),
      a.subscribe('mixed', (m) => all.push(m)),
    ];
    await a.publish('mixed', { from: 'a' });
    await b.publish('mixed', { from: 'b' });
    await expect.poll(() => all.length, { timeout: 10_000 }).toBe(2);
    expect(all).toEqual([{ from: 'a' }, { from: 'b' }]);
    expect(others).toEqual([{ from: 'b' }]);
    for (const off of offs) off();
  });

  it('listens again after its connection is cut: subscribers hear of it, later messages arrive', async () => {
    const [a, b] = buses as [Bus, Bus];
    const got: Json[] = [];
    let reconnects = 0;
    const off = b.subscribe(
      'cut',
      (m) => got.push(m),
      () => reconnects++,
    );
    await a.publish('cut', { n: 1 });
    await expect.poll(() => got, { timeout: 10_000 }).toEqual([{ n: 1 }]);
    // Both nodes' listening connections, as a Postgres restart or a proxy's idle cut would do.
    const killed = await db.sql`
      select pg_terminate_backend(pid) from pg_stat_activity
       where datname = current_database() and query ilike 'listen%'`;
    expect(killed).toHaveLength(2);
    await expect.poll(() => reconnects, { timeout: 10_000 }).toBeGreaterThan(0);
    await a.publish('cut', { n: 2 });
    await expect.poll(() => got, { timeout: 10_000 }).toEqual([{ n: 1 }, { n: 2 }]);
    expect(buses.every((x) => x.healthy())).toBe(true);
    off();
  });
});
