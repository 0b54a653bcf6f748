import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from '../../actors/logger.ts';
import { createEchoProvider } from '../../actors/providers/echo.ts';
import { createProviderRegistry } from '../../actors/providers/registry.ts';
import type { HostMessage } from '../../actors/run-messages.ts';
import { createMemoryHub } from '../../persistence/memory.ts';
import type { Json } from '../../persistence/types.ts';
import { createAuth } from '../../server/auth/auth.ts';
import { startInspector } from '../../server/inspect.ts';
import { attachWebSocket } from '../../server/ws/hub.ts';
import { createRelay } from '../../server/ws/relay.ts';
import { awaitEnd, createEchoRun, listen, SERVICE_KEY, type TestApp, testApp } from '../server/support.ts';
import { connect } from '../server/ws-harness.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

/**
 * SPEC §7: no callback outside a request (bus, timers, workers, relay, inspector, sockets) throws
 * past its own boundary. Each gets a message that makes it throw; the process (this test process:
 * vitest fails a file on any uncaught exception or unhandled rejection) lives, and runs go on.
 */

let db: TestDatabase;
let t: TestApp;
// The service's bus, and another node's on the same hub: what that one publishes is foreign.
const hub = createMemoryHub();
const bus = hub.bus();
const elsewhere = hub.bus();
const logged: string[] = [];
const log: Logger = {
  info: () => undefined,
  warn: (o, m) => void logged.push(`${m} ${JSON.stringify(o)}`),
  error: (o, m) => void logged.push(`${m} ${JSON.stringify(o)}`),
};
const stops: Array<() => unknown> = [];

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

beforeAll(async () => {
  db = await createTestDatabase();
  const echo = createEchoProvider();
  // A provider whose output processing throws on one prompt: the worker's background work fails.
  const fragile = {
    ...echo,
    processOutput: (state: Parameters<typeof echo.processOutput>[0]) => {
      if (JSON.stringify(state.output).includes('explode')) throw new Error('processing exploded');
      return echo.processOutput(state);
    },
  };
  t = testApp(db, { bus, host: { providers: createProviderRegistry([fragile]), log }, app: { log } });
  const server = await listen(t.app);
  wsUrl = `${server.url.replace('http', 'ws')}/ws`;
  const hub = attachWebSocket(server.server, {
    host: t.host,
    approvals: t.approvals,
    auth: createAuth({ apiKeys: [SERVICE_KEY] }),
    log,
  });
  const relay = createRelay({
    url: 'ws://127.0.0.1:9/ws',
    apiKey: 'k',
    log,
    fetch: async () => new Response('{}'),
  });
  const offRelay = t.host.subscribe((m) => relay.forward(m));
  const inspector = await startInspector(`ws://127.0.0.1:${await freePort()}`, t.host, log);
  stops.push(
    () => inspector.stop(),
    offRelay,
    () => relay.close(100),
    () => hub.close(),
    () => server.close(),
  );
});
afterAll(async () => {
  for (const stop of stops) await stop();
  await t?.close();
  await db?.drop();
});

const malformed: unknown[] = [
  null,
  42,
  'text',
  { kind: 'run' },
  { kind: 'approval', node: 'elsewhere' },
  // Passes the shallow shape check, but nothing inside is what subscribers expect.
  {
    kind: 'run',
    node: 'elsewhere',
    run_id: 'x',
    status: 's',
    events: [{}],
    opened: [{}],
    resolved: [{}],
    reviewers: {},
  },
  { kind: 'approval', node: 'elsewhere', approval: { reviewers: {} }, created_by: null, resolved: {} },
];

describe('background callbacks', () => {
  it('a subscriber that throws never fails the commit that publishes to it', async () => {
    const off = t.host.subscribe(() => {
      throw new Error('a broken subscriber');
    });
    try {
      const id = await createEchoRun(t, { policy: 'auto' });
      expect((await awaitEnd(t, id)).status).toBe('completed');
      expect(logged.some((l) => l.includes('a broken subscriber'))).toBe(true);
    } finally {
      off();
    }
  });

  it('malformed bus messages reach every subscriber (sockets, relay, inspector, metrics, SSE) and nothing dies', async () => {
    const reviewerSide = await wsClient();
    await reviewerSide.request('subscribe', { session_id: 's1' });
    const seen: unknown[] = [];
    const off = t.host.subscribe((m) => seen.push(m));
    for (const m of malformed) await elsewhere.publish('events', m as Json);
    // Deep (as deep as anything accepted) and odd inside: nobody parses it recursively.
    let deep: unknown = { end: true };
    for (let i = 0; i < 200; i++) deep = { a: deep };
    await elsewhere.publish('events', {
      kind: 'run',
      node: 'elsewhere',
      run_id: 'y',
      status: 's',
      events: [deep],
      opened: [],
      resolved: [],
      reviewers: {},
    } as unknown as Json);
    await reviewerSide.settle();
    const id = await createEchoRun(t, { policy: 'auto' });
    expect((await awaitEnd(t, id)).status).toBe('completed');
    await reviewerSide.next((f) => f.data['run_id'] === id && f.data['status'] === 'completed');
    reviewerSide.close();
    off();
    // What is not shaped like a host message never reached a subscriber; the real run's did.
    expect(seen.some((m) => m === null || typeof m !== 'object')).toBe(false);
    const foreign = seen.filter((m) => (m as { node?: unknown }).node === 'elsewhere');
    // Only the three shaped like messages (runs x and y, one approval) got through.
    expect(foreign).toHaveLength(3);
    expect(seen.some((m) => (m as { run_id?: unknown }).run_id === id)).toBe(true);
  });

  it('a timer whose handling throws is logged, and the timers keep firing', async () => {
    const id = await createEchoRun(t, { policy: 'require_human', allowed_steps: ['payload_review'] });
    await db.sql`insert into timers (owner_id, run_id, kind, key, fire_at)
                 values (${id}, ${id}, 'retry', 'not-a-number', now()),
                        (${randomUUID()}, ${randomUUID()}, 'deadline', 'x', now())`;
    await expect.poll(() => logged.some((l) => l.includes('timer failed')), { timeout: 10_000 }).toBe(true);
    // Timers still work: a short deadline fires.
    const next = await createEchoRun(t, {
      policy: 'require_human',
      allowed_steps: ['payload_review'],
      timeout_seconds: 1,
    });
    expect((await awaitEnd(t, next)).status).toBe('expired');
  });

  it('a worker whose provider throws logs it; the node goes on with other runs', async () => {
    const bad = await createEchoRun(t, { policy: 'auto' }, { prompt: 'explode' });
    await expect
      .poll(() => logged.some((l) => l.includes('run work failed') && l.includes(bad)), { timeout: 10_000 })
      .toBe(true);
    const good = await createEchoRun(t, { policy: 'auto' });
    expect((await awaitEnd(t, good)).status).toBe('completed');
  });

  it('the relay skips a message it cannot frame', () => {
    const relay = createRelay({
      url: 'ws://127.0.0.1:9/ws',
      apiKey: 'k',
      log,
      fetch: async () => new Response('{}'),
    });
    for (const m of malformed) expect(() => relay.forward(m as HostMessage)).not.toThrow();
    void relay.close(10);
  });
});

let wsUrl = '';
async function wsClient() {
  if (!wsUrl) throw new Error('no ws url');
  return connect(wsUrl, SERVICE_KEY);
}
