import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sign } from 'hono/jwt';
import { afterAll, beforeAll } from 'vitest';
import { WebSocket } from 'ws';
import { createApprovalService } from '../../actors/approvals.ts';
import type { Logger } from '../../actors/logger.ts';
import { createEchoProvider } from '../../actors/providers/echo.ts';
import { createProviderRegistry } from '../../actors/providers/registry.ts';
import { createRunHost } from '../../actors/run-host.ts';
import { effectiveConfig, type HitlConfigInput } from '../../machines/schemas.ts';
import { createMemoryBus, createMemoryCache } from '../../persistence/memory.ts';
import { createPostgresStore } from '../../persistence/postgres.ts';
import type { Bus } from '../../persistence/types.ts';
import { createAuth } from '../../server/auth/auth.ts';
import { attachWebSocket } from '../../server/ws/hub.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

export const SERVICE_KEY = 'test-service-key-0123456789';
export const JWT_SECRET = 'test-jwt-secret-0123456789abcdef';
export const silent: Logger = { info() {}, warn() {}, error() {} };

/** A reviewer JWT (HS256) valid for an hour. */
export function reviewerToken(sub: string, roles: string[]): Promise<string> {
  return sign({ sub, roles, exp: Math.floor(Date.now() / 1000) + 3600 }, JWT_SECRET, 'HS256');
}

/** A real host on a real database behind a plain node:http server on port 0 with the WebSocket attached. */
export async function startNode(
  opts: {
    db?: TestDatabase;
    bus?: Bus;
    node?: string;
    pageSize?: number;
    maxBufferedBytes?: number;
    authFailuresPerMinute?: number;
  } = {},
) {
  const db = opts.db ?? (await createTestDatabase());
  const host = createRunHost({
    store: createPostgresStore(db.sql),
    cache: createMemoryCache({ maxEntries: 100 }),
    bus: opts.bus ?? createMemoryBus(),
    providers: createProviderRegistry([createEchoProvider()]),
    node: opts.node ?? `node-${randomUUID().slice(0, 8)}`,
    timers: { tickMs: 50 },
  });
  const approvals = createApprovalService(host);
  host.start();
  const auth = createAuth({ apiKeys: [SERVICE_KEY], jwtSecret: JWT_SECRET });
  const server: Server = createServer((_req, res) => {
    res.statusCode = 404;
    res.end();
  });
  const hub = attachWebSocket(server, {
    host,
    approvals,
    auth,
    log: silent,
    ...(opts.pageSize !== undefined ? { pageSize: opts.pageSize } : {}),
    ...(opts.maxBufferedBytes !== undefined ? { maxBufferedBytes: opts.maxBufferedBytes } : {}),
    ...(opts.authFailuresPerMinute !== undefined
      ? { authFailuresPerMinute: opts.authFailuresPerMinute }
      : {}),
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    db,
    host,
    approvals,
    hub,
    port,
    url: `ws://127.0.0.1:${port}/ws`,
    /** A run of `u1` in session `s1` (require_human unless `config` says otherwise). */
    createRun(config: HitlConfigInput = {}, prompt = 'hello') {
      return host.createRun({
        run_input: { prompt, agent_tool_config: { 'echo-agent-tool': {} } },
        config: effectiveConfig({ policy: 'require_human', ...config }, 'u1'),
        user_id: 'u1',
        session_id: 's1',
        created_by: 'service:test',
      });
    },
    async close(dropDb = true) {
      await hub.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await host.stop(1000);
      if (dropDb) await db.drop();
    },
  };
}

export type TestNode = Awaited<ReturnType<typeof startNode>>;

/** A server → client frame as the tests read it. */
export interface Frame {
  type: string;
  data: Record<string, unknown>;
  request_id?: string | number;
}

/** A `ws` client that records every frame and can wait for one. */
export async function connect(url: string, token: string | null, via: 'header' | 'query' = 'header') {
  const target = token && via === 'query' ? `${url}?token=${encodeURIComponent(token)}` : url;
  const ws = new WebSocket(
    target,
    token && via === 'header' ? { headers: { authorization: `Bearer ${token}` } } : {},
  );
  const frames: Frame[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (raw) => {
    frames.push(JSON.parse(raw.toString()) as Frame);
    for (const w of [...waiters]) w();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let counter = 0;

  /** The first recorded frame (from `from` on) matching `match`, waiting for it if needed. */
  function next(match: (f: Frame) => boolean, timeoutMs = 10_000, from = 0): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = frames.slice(from).find(match);
        if (!found) return false;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(
          new Error(
            `no matching frame within ${timeoutMs} ms; got ${JSON.stringify(frames.map((f) => f.type))}`,
          ),
        );
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  }

  return {
    ws,
    frames,
    closed,
    next,
    send(frame: unknown): void {
      ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
    },
    /** Send `{ type, data, request_id }` and wait for the reply with that request_id. */
    request(type: string, data?: unknown): Promise<Frame> {
      const request_id = `r${++counter}`;
      ws.send(JSON.stringify({ type, ...(data !== undefined ? { data } : {}), request_id }));
      return next((f) => f.request_id === request_id);
    },
    /** A ping round trip: every frame pushed before it has arrived after it. */
    async settle(): Promise<void> {
      await this.request('ping');
    },
    close(): void {
      ws.close();
    },
  };
}

export type Client = Awaited<ReturnType<typeof connect>>;

/** Raw HTTP status of an upgrade attempt that the server refuses. */
export function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    ws.on('open', () => {
      ws.close();
      reject(new Error('upgrade was accepted'));
    });
    ws.on('error', () => undefined);
  });
}

/** The sockets most WebSocket tests start from: a service, bob and carol, on one node. */
export interface ThreeClients {
  node: TestNode;
  service: Client;
  /** A reviewer with no roles: decides only where named (connects with `?token=`). */
  bob: Client;
  /** A reviewer with the default `reviewer` role. */
  carol: Client;
}

/** A node and three connected clients for the whole describe block, handed to `use`. */
export function withThreeClients(use: (c: ThreeClients) => void): void {
  let c: ThreeClients | undefined;
  beforeAll(async () => {
    const node = await startNode();
    c = {
      node,
      service: await connect(node.url, SERVICE_KEY),
      bob: await connect(node.url, await reviewerToken('bob', []), 'query'),
      carol: await connect(node.url, await reviewerToken('carol', ['reviewer'])),
    };
    use(c);
  });
  afterAll(async () => {
    if (!c) return;
    for (const s of [c.service, c.bob, c.carol]) s.close();
    await c.node.close();
  });
}
