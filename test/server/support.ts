import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { sign } from 'hono/jwt';
import { afterAll, beforeAll } from 'vitest';
import { createApprovalService } from '../../actors/approvals.ts';
import { createEchoProvider } from '../../actors/providers/echo.ts';
import { createProviderRegistry } from '../../actors/providers/registry.ts';
import { createReplicateProvider } from '../../actors/providers/replicate.ts';
import { createRunHost, type RunHostOptions } from '../../actors/run-host.ts';
import { createMemoryBus, createMemoryCache } from '../../persistence/memory.ts';
import { createPostgresStore } from '../../persistence/postgres.ts';
import type { Bus, SnapshotCache } from '../../persistence/types.ts';
import { type AppOptions, createApp } from '../../server/app.ts';
import { createAuth, keyId } from '../../server/auth/auth.ts';
import { createMetrics } from '../../server/metrics.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

export const SERVICE_KEY = 'test-service-key-0123456789';
export const OTHER_KEY = 'test-other-service-key-abcdef';
export const JWT_SECRET = 'test-jwt-secret-0123456789abcdef';
export const WEBHOOK_SECRET = `whsec_${Buffer.from('test webhook secret 0123456789').toString('base64')}`;
export const SERVICE_ACTOR = `service:${keyId(SERVICE_KEY)}`;

/** A reviewer JWT (HS256) valid for an hour. */
export function reviewerToken(
  sub: string,
  roles: string[] = ['reviewer'],
  secret = JWT_SECRET,
): Promise<string> {
  return sign({ sub, roles, exp: Math.floor(Date.now() / 1000) + 3600 }, secret, 'HS256');
}

export interface TestAppOptions {
  replicateUrl?: string;
  /** Configure Replicate without a token (provider_not_configured). */
  replicateToken?: string | null;
  publicUrl?: string;
  cache?: SnapshotCache;
  bus?: Bus;
  node?: string;
  app?: Partial<AppOptions>;
  host?: Partial<RunHostOptions>;
}

/** The whole HTTP stack on a test database: real Postgres store, echo (+ Replicate), short timers. */
export function testApp(db: TestDatabase, opts: TestAppOptions = {}) {
  const replicateToken = opts.replicateToken === undefined ? 'test-token' : opts.replicateToken;
  const providers = createProviderRegistry([
    createEchoProvider(),
    createReplicateProvider({
      token: opts.replicateUrl ? replicateToken : null,
      ...(opts.replicateUrl ? { baseUrl: opts.replicateUrl } : {}),
    }),
  ]);
  const publicUrl = opts.publicUrl;
  const host = createRunHost({
    store: createPostgresStore(db.sql),
    cache: opts.cache ?? createMemoryCache({ maxEntries: 10_000 }),
    bus: opts.bus ?? createMemoryBus(),
    providers,
    node: opts.node ?? `test-${randomUUID().slice(0, 8)}`,
    leaseMs: 2000,
    timers: {
      tickMs: 30,
      recoveryMs: 200,
      pollMs: 30,
      onApprovalDeadline: (timer) => approvals.onDeadline(timer),
    },
    ...(publicUrl
      ? { webhookUrl: (runId: string) => `${publicUrl}/webhooks/replicate?run_id=${runId}` }
      : {}),
    ...opts.host,
  });
  const approvals = createApprovalService(host);
  const metrics = createMetrics({ host });
  const shutdown = new AbortController();
  const app = createApp({
    host,
    stores: { idempotency: host.idempotency, webhooks: { remember: host.rememberWebhook } },
    approvals,
    auth: createAuth({ apiKeys: [SERVICE_KEY, OTHER_KEY], jwtSecret: JWT_SECRET }),
    metrics,
    webhookSecret: WEBHOOK_SECRET,
    publicUrl,
    shutdown: shutdown.signal,
    limits: { longPollMaxMs: 10_000, heartbeatMs: 15_000 },
    ...opts.app,
  });
  host.start();

  /** One request; `token: null` sends none; a string body is sent as is. */
  async function call(
    method: string,
    path: string,
    init: { body?: unknown; token?: string | null; headers?: Record<string, string> } = {},
  ) {
    const token = init.token === undefined ? SERVICE_KEY : init.token;
    const headers: Record<string, string> = {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...init.headers,
    };
    let body: string | undefined;
    if (init.body !== undefined) {
      body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await app.request(path, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      json = { text };
    }
    return { status: res.status, json, headers: res.headers, text };
  }

  return {
    app,
    host,
    approvals,
    metrics,
    shutdown,
    call,
    async close() {
      shutdown.abort();
      metrics.close();
      await host.stop(200);
    },
  };
}

export type TestApp = ReturnType<typeof testApp>;

/** The app on a real HTTP server, port 0 on loopback. */
export async function listen(
  app: TestApp['app'],
  port = 0,
): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const server = await new Promise<Server>((resolve) => {
    const s = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, () => resolve(s as Server));
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}`,
    server,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** An echo RunInput. */
export function echoInput(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    prompt: 'a red fox in the snow',
    user_id: 'u1',
    session_id: 's1',
    agent_tool_config: { 'echo-agent-tool': {} },
    ...extra,
  };
}

/** Create an echo run over HTTP and return its id. */
export async function createEchoRun(
  t: TestApp,
  hitl_config: Record<string, unknown> = {},
  input: Record<string, unknown> = {},
) {
  const res = await t.call('POST', '/hitl/run', { body: { run_input: echoInput(input), hitl_config } });
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${res.text}`);
  return String(res.json.run_id);
}

/** Long-poll until the run awaits a human (or ends); returns the view. */
export async function awaitHuman(t: TestApp, runId: string): Promise<Record<string, unknown>> {
  const res = await t.call('GET', `/hitl/runs/${runId}?wait_for=awaiting_human&timeout=10`);
  if (res.status !== 200) throw new Error(`wait failed: ${res.status} ${res.text}`);
  return res.json;
}

/** Long-poll until the run ends; returns the view. */
export async function awaitEnd(t: TestApp, runId: string): Promise<Record<string, unknown>> {
  const res = await t.call('GET', `/hitl/runs/${runId}?wait_for=terminal&timeout=10`);
  if (res.status !== 200) throw new Error(`wait failed: ${res.status} ${res.text}`);
  return res.json;
}

/** The open approval of a view. */
export function openApproval(
  view: Record<string, unknown>,
): Record<string, unknown> & { approval_id: string } {
  const a = view.approval as (Record<string, unknown> & { approval_id: string }) | null;
  if (!a)
    throw new Error(`no open approval; status=${String(view.status)} step=${String(view.current_step)}`);
  return a;
}

/** The error code of a response body. */
export const codeOf = (json: Record<string, unknown>): unknown =>
  (json.error as { code?: unknown } | undefined)?.code;

/** A test app on a database of its own for the whole file, handed to `use` before the tests run. */
export function withTestApp(use: (app: TestApp) => void, opts: TestAppOptions = {}): void {
  let db: TestDatabase | undefined;
  let app: TestApp | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
    app = testApp(db, opts);
    use(app);
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });
}

/** An echo run stopped at payload_review (require_human there by default): its id, approval id and view. */
export async function runAtPayloadReview(
  t: TestApp,
  config: Record<string, unknown> = { policy: 'require_human', allowed_steps: ['payload_review'] },
  input: Record<string, unknown> = {},
) {
  const id = await createEchoRun(t, config, input);
  const view = await awaitHuman(t, id);
  return { id, approvalId: openApproval(view).approval_id, view };
}
