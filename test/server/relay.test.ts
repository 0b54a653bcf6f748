import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../actors/logger.ts';
import type { RunMessage } from '../../actors/run-messages.ts';
import { createRelay, relayEndpoint } from '../../server/ws/relay.ts';

interface Received {
  method: string;
  url: string;
  authorization: string | undefined;
  body: {
    message: { type: string; data: Record<string, unknown> };
    user_id: string | null;
    session_id: string | null;
  };
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A local fake of a deployment's `/api/send`; `hang` never answers. */
async function fakeEndpoint(mode: 'ok' | 'hang' | 'fail' = 'ok') {
  const received: Received[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization,
        body: JSON.parse(Buffer.concat(chunks).toString()) as Received['body'],
      });
      if (mode === 'hang') return;
      res.statusCode = mode === 'ok' ? 200 : 500;
      res.end('{}');
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { received, port: (server.address() as AddressInfo).port };
}

function recordingLog() {
  const lines: string[] = [];
  const log: Logger = {
    info: (o, m) => lines.push(`${m} ${JSON.stringify(o)}`),
    warn: (o, m) => lines.push(`${m} ${JSON.stringify(o)}`),
    error: (o, m) => lines.push(`${m} ${JSON.stringify(o)}`),
  };
  return { lines, log };
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const KEY = 'relay-secret-key-123';

describe('outbound relay', () => {
  it('turns ws(s) URLs into the http(s) origin plus /api/send', () => {
    expect(relayEndpoint('wss://hooks.example.com:8443/socket?x=1')).toBe(
      'https://hooks.example.com:8443/api/send',
    );
    expect(relayEndpoint('ws://127.0.0.1:9000/ws')).toBe('http://127.0.0.1:9000/api/send');
    expect(relayEndpoint('https://a.example/any')).toBe('https://a.example/api/send');
  });

  it('POSTs each frame, in order, with the bearer key, user_id and session_id', async () => {
    const ep = await fakeEndpoint();
    const { log } = recordingLog();
    const relay = createRelay({ url: `ws://127.0.0.1:${ep.port}/ws`, apiKey: KEY, log });
    for (let i = 1; i <= 5; i++) relay.send({ type: 'hitl_status_update', data: { seq: i } }, 'u1', 's1');
    await until(() => ep.received.length === 5);
    expect(ep.received[0]).toEqual({
      method: 'POST',
      url: '/api/send',
      authorization: `Bearer ${KEY}`,
      body: { message: { type: 'hitl_status_update', data: { seq: 1 } }, user_id: 'u1', session_id: 's1' },
    });
    expect(ep.received.map((r) => r.body.message.data['seq'])).toEqual([1, 2, 3, 4, 5]);
    await relay.close();
  });

  it('forwards every frame of a host message', async () => {
    const ep = await fakeEndpoint();
    const relay = createRelay({ url: `http://127.0.0.1:${ep.port}`, apiKey: KEY, log: recordingLog().log });
    const row = {
      run_id: 'r1',
      seq: 1,
      type: 'run.created',
      step: 'created',
      status: 'queued',
      actor: 'service:x',
      message: 'Run created',
      payload: {},
      created_at: '2026-01-01T00:00:00.000Z',
      derived: false,
    };
    const message: RunMessage = {
      kind: 'run',
      node: 'n',
      run_id: 'r1',
      user_id: 'u7',
      session_id: null,
      created_by: 'service:x',
      status: 'queued',
      current_step: 'created',
      seq: 1,
      events: [row],
      opened: [],
      resolved: [],
      reviewers: { user_ids: [], roles: [] },
    };
    relay.forward(message);
    await until(() => ep.received.length === 1);
    expect(ep.received[0]?.body).toMatchObject({
      message: { type: 'hitl_status_update' },
      user_id: 'u7',
      session_id: null,
    });
    await relay.close();
  });

  it('survives a dead endpoint, a failing one and a hanging one: logged (never the key), never thrown', async () => {
    const dead = await fakeEndpoint();
    servers.pop()?.close();
    const failing = await fakeEndpoint('fail');
    const hanging = await fakeEndpoint('hang');
    const { lines, log } = recordingLog();
    const relays = [dead.port, failing.port, hanging.port].map((port) =>
      createRelay({ url: `ws://127.0.0.1:${port}`, apiKey: KEY, log, timeoutMs: 200 }),
    );
    for (const r of relays) expect(() => r.send({ type: 'ping', data: {} }, null, null)).not.toThrow();
    await until(() => lines.length >= 3);
    expect(lines.some((l) => l.includes('relay refused a frame') && l.includes('500'))).toBe(true);
    expect(lines.some((l) => l.includes('TimeoutError'))).toBe(true);
    expect(lines.some((l) => l.includes('ECONNREFUSED'))).toBe(true);
    expect(lines.join('\n')).not.toContain(KEY);
    await Promise.all(relays.map((r) => r.close(1000)));
  });

  it('keeps a bounded queue, dropping the oldest frame with a log line', async () => {
    const ep = await fakeEndpoint('hang');
    const { lines, log } = recordingLog();
    const relay = createRelay({
      url: `ws://127.0.0.1:${ep.port}`,
      apiKey: KEY,
      log,
      maxQueue: 2,
      timeoutMs: 300,
    });
    for (let i = 1; i <= 5; i++) relay.send({ type: 't', data: { i } }, null, null);
    expect(lines.filter((l) => l.includes('dropped the oldest frame'))).toHaveLength(2);
    await until(() => ep.received.length === 3, 3000);
    // The first went out at once; of the four queued behind it, the two newest were kept.
    expect(ep.received.map((r) => r.body.message.data['i'])).toEqual([1, 4, 5]);
    await relay.close(100);
  });
});
