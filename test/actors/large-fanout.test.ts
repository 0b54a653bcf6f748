import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostMessage } from '../../actors/run-messages.ts';
import { createRedisBus } from '../../persistence/redis.ts';
import type { Bus } from '../../persistence/types.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { approveToEnd, createLargeRun, testHost } from '../support/host.ts';
import { runMessage } from '../support/messages.ts';
import { postgresBuses } from '../support/postgres-buses.ts';
import { clearRedisPrefix, describeWithRedis } from '../support/redis.ts';

// A run with a large input fans out by reference (issue 7, write volume): the bus carries its
// messages in kilobytes, and a node that hears them gives its subscribers the same messages the
// committing node's subscribers got, in order.

const until = async (ok: () => boolean, ms = 10_000) => {
  for (const end = Date.now() + ms; !ok(); ) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

/** A run with a 300 kB prompt made and approved on node A; node A's messages of it once node B has as many. */
async function largeRun(a: ReturnType<typeof testHost>, onA: HostMessage[], onB: HostMessage[]) {
  const { prompt, id } = await createLargeRun(a.host);
  await approveToEnd(a.host, id, 2);
  const ofRun = (list: HostMessage[]) => list.filter((m) => m.kind === 'run' && m.run_id === id);
  const mine = ofRun(onA);
  await until(() => ofRun(onB).length === mine.length);
  // Node B's subscribers got exactly node A's messages (the prompt in events and approvals).
  expect(ofRun(onB)).toEqual(mine);
  expect(JSON.stringify(mine)).toContain(prompt);
  expect(mine.flatMap((m) => (m.kind === 'run' ? m.opened : [])).length).toBeGreaterThan(0);
  return { prompt, messages: mine.length };
}

describeWithRedis('fan-out of a run with a 300 kB prompt across two nodes (Redis bus)', (redis) => {
  let db: TestDatabase;
  const buses: Bus[] = [];
  let a: ReturnType<typeof testHost>;
  let b: ReturnType<typeof testHost>;
  let raw: Redis;
  const wire: Buffer[] = [];
  const onA: HostMessage[] = [];
  const onB: HostMessage[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    for (let i = 0; i < 2; i++) buses.push(createRedisBus(redis.url, { prefix: redis.prefix }));
    a = testHost(db, { bus: buses[0], node: 'node-a' });
    b = testHost(db, { bus: buses[1], node: 'node-b' });
    a.host.start();
    a.host.subscribe((m) => onA.push(structuredClone(m)));
    b.host.subscribe((m) => onB.push(m));
    raw = new Redis(redis.url);
    raw.on('messageBuffer', (_channel: Buffer, bytes: Buffer) => wire.push(bytes));
    await raw.subscribe(`${redis.prefix}events`);
    // Let every subscription reach Redis before anything is published.
    await new Promise((r) => setTimeout(r, 300));
  });
  afterAll(async () => {
    await a?.host.stop(1000);
    raw?.disconnect();
    for (const bus of buses) await bus.close();
    await db?.drop();
    await clearRedisPrefix(redis);
  });

  it('sends kilobytes, and node B hears what node A committed, whole and in order', async () => {
    const { prompt, messages } = await largeRun(a, onA, onB);
    // What went over Redis: every message of the run is small, none holds the prompt.
    await until(() => wire.length >= messages);
    const sizes = wire.map((w) => w.length);
    expect(Math.max(...sizes)).toBeLessThan(40_000);
    for (const w of wire) expect(w.toString()).not.toContain(prompt.slice(0, 4096));
  });

  it('drops a message whose references are not stored, and delivers the next ones in order', async () => {
    const runId = '00000000-0000-4000-8000-000000000001';
    const before = onB.length;
    const fake = (seq: number, extra: Record<string, unknown>) => runMessage(runId, seq, extra);
    // A reference to nothing stored, then two plain messages: only those two arrive, in order.
    await buses[0]?.publish(
      'events',
      fake(1, { kind: 'run_refs', message: `\u0001hitl:blob:${'0'.repeat(64)}` }),
    );
    await buses[0]?.publish('events', fake(2, {}));
    await buses[0]?.publish('events', fake(3, {}));
    await until(() => onB.length >= before + 2);
    await new Promise((r) => setTimeout(r, 200));
    const heard = onB.slice(before).map((m) => (m.kind === 'run' ? m.seq : -1));
    expect(heard).toEqual([2, 3]);
  });
});

describe('fan-out of a run with a 300 kB prompt across two nodes (Postgres LISTEN/NOTIFY bus)', () => {
  let db: TestDatabase;
  let pg: ReturnType<typeof postgresBuses>;
  let a: ReturnType<typeof testHost>;
  const onA: HostMessage[] = [];
  const onB: HostMessage[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    pg = postgresBuses(db.url);
    a = testHost(db, { bus: pg.buses[0], node: 'node-a' });
    const b = testHost(db, { bus: pg.buses[1], node: 'node-b' });
    a.host.start();
    a.host.subscribe((m) => onA.push(structuredClone(m)));
    b.host.subscribe((m) => onB.push(m));
    // Both nodes listen before anything is published (LISTEN is not retroactive).
    await pg.listening();
  });
  afterAll(async () => {
    await a?.host.stop(1000);
    await pg?.close();
    await db?.drop();
  });

  it('stores kilobytes per message, and node B hears what node A committed, whole and in order', async () => {
    const { messages } = await largeRun(a, onA, onB);
    const rows = await db.sql<{ size: number }[]>`select octet_length(message) as size from bus_messages`;
    expect(rows.length).toBeGreaterThanOrEqual(messages);
    expect(Math.max(...rows.map((r) => r.size))).toBeLessThan(40_000);
  });
});
