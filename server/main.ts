import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { hostname } from 'node:os';
import { serve } from '@hono/node-server';
import { pino } from 'pino';
import { createApprovalService } from '../actors/approvals.ts';
import { createEchoProvider } from '../actors/providers/echo.ts';
import { createProviderRegistry } from '../actors/providers/registry.ts';
import { createReplicateProvider } from '../actors/providers/replicate.ts';
import { createRunHost } from '../actors/run-host.ts';
import { embeddedHome } from '../persistence/embedded-home.ts';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../persistence/embedded-postgres.ts';
import { createMemoryBus, createMemoryCache } from '../persistence/memory.ts';
import { migrate } from '../persistence/migrate.ts';
import { connectPostgres, createPostgresStore } from '../persistence/postgres.ts';
import { createPostgresBus } from '../persistence/postgres-bus.ts';
import { connectRedis, createRedisBus, createRedisCache } from '../persistence/redis.ts';
import type { Bus, SnapshotCache } from '../persistence/types.ts';
import { createApp } from './app.ts';
import { isLoopback, localApiKey } from './auth/api-key.ts';
import { createAuth } from './auth/auth.ts';
import { createFailureLimiter } from './auth/rate-limit.ts';
import { runWorkers } from './cluster.ts';
import { type Config, DEFAULT_DATA_DIR, loadConfig } from './config.ts';
import { startInspector } from './inspect.ts';
import { createMetrics } from './metrics.ts';
import { attachWebSocket } from './ws/hub.ts';
import { createRelay } from './ws/relay.ts';

// Known here so a failed start can still stop the server it started.
let pg: EmbeddedPostgres | null = null;

/** Starts the embedded PostgreSQL; as root the server runs as `postgres`: see embeddedHome for where its cluster then lives. */
function startEmbedded(cfg: Config, log?: (line: string) => void): Promise<EmbeddedPostgres> {
  return startEmbeddedPostgres({
    dataDir: embeddedHome({
      dataDir: cfg.HITL_DATA_DIR ?? DEFAULT_DATA_DIR,
      explicit: cfg.HITL_DATA_DIR !== undefined,
      asRoot: process.getuid?.() === 0,
    }),
    ...(cfg.HITL_EMBEDDED_PG_PORT !== undefined ? { port: cfg.HITL_EMBEDDED_PG_PORT } : {}),
    ...(log ? { log } : {}),
  });
}

/** The composition root: reads the configuration once, picks the adapters, wires and serves. */
async function main(cfg: Config): Promise<void> {
  const log = pino({ level: cfg.LOG_LEVEL, base: { service: 'hitl-runs' } });
  const stops: Array<() => Promise<void> | void> = [];

  const dataDir = cfg.HITL_DATA_DIR ?? DEFAULT_DATA_DIR;
  let databaseUrl = cfg.DATABASE_URL;
  if (!databaseUrl) {
    const embedded = await startEmbedded(cfg, (line) => log.debug({ pg: line }, 'embedded postgres'));
    pg = embedded;
    databaseUrl = embedded.url;
    log.info(
      {
        port: embedded.port,
        socket_dir: embedded.socketDir,
        data_dir: embedded.pgDir,
        binaries: embedded.binaries,
      },
      `embedded PostgreSQL started on 127.0.0.1:${embedded.port}${embedded.socketDir ? ` and in ${embedded.socketDir}` : ''}, data in ${embedded.pgDir}`,
    );
  }
  const sql = connectPostgres(databaseUrl);
  const applied = await migrate(sql);
  if (applied.length > 0) log.info({ applied }, 'migrations applied');
  const store = createPostgresStore(sql);

  let cache: SnapshotCache;
  let bus: Bus;
  if (cfg.REDIS_URL) {
    cache = createRedisCache(connectRedis(cfg.REDIS_URL, 'hitl-runs:cache'), {
      prefix: 'hitl:',
      ttlSeconds: 3600,
    });
    bus = createRedisBus(cfg.REDIS_URL, { prefix: 'hitl:' });
  } else {
    // In-process, the cache is bounded like the live runs: memory stays flat however many runs wait.
    cache = createMemoryCache({ maxEntries: cfg.HITL_MAX_LIVE_RUNS });
    // An external Postgres may be shared by several nodes: fan out through LISTEN/NOTIFY (SPEC §8).
    bus = pg ? createMemoryBus() : createPostgresBus(sql);
  }

  const providers = createProviderRegistry([
    createEchoProvider(),
    createReplicateProvider({ token: cfg.REPLICATE_API_TOKEN ?? null, baseUrl: cfg.REPLICATE_BASE_URL }),
  ]);
  const node = cfg.HITL_NODE_ID ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const publicUrl = cfg.HITL_PUBLIC_URL?.replace(/\/+$/, '');
  const faultPoint = cfg.HITL_FAULT_POINT;
  const host = createRunHost({
    store,
    cache,
    bus,
    providers,
    node,
    leaseMs: cfg.HITL_LEASE_MS,
    maxLiveRuns: cfg.HITL_MAX_LIVE_RUNS,
    maxQueuedCommits: cfg.HITL_COMMIT_QUEUE_MAX,
    log,
    timers: {
      pollMs: cfg.HITL_POLL_MS,
      tickMs: cfg.HITL_TIMER_TICK_MS,
      onApprovalDeadline: (timer) => approvals.onDeadline(timer),
    },
    ...(publicUrl
      ? { webhookUrl: (runId: string) => `${publicUrl}/webhooks/replicate?run_id=${runId}` }
      : {}),
    ...(faultPoint
      ? {
          fault: (point: string) => {
            // Crash tests: die here, without any cleanup, as a killed node would.
            if (point === faultPoint) process.kill(process.pid, 'SIGKILL');
          },
        }
      : {}),
  });
  const approvals = createApprovalService(host);

  let listenHost = cfg.HOST;
  let apiKeys = cfg.HITL_API_KEYS;
  if (apiKeys.length === 0) {
    const local = await localApiKey(dataDir);
    apiKeys = [local.key];
    // Printed on stderr, never through the logger (logs are collected and kept).
    if (local.created)
      process.stderr.write(
        `\nhitl-runs: generated service key (saved to ${local.file}):\n  ${local.key}\n\n`,
      );
    else process.stderr.write(`hitl-runs: using the service key in ${local.file}\n`);
    if (!isLoopback(listenHost)) {
      log.warn({ host: listenHost }, 'no HITL_API_KEYS: listening on 127.0.0.1 only');
      listenHost = '127.0.0.1';
    }
  }
  const auth = createAuth({ apiKeys, jwtSecret: cfg.HITL_JWT_SECRET });

  const draining = new AbortController();
  const shutdown = new AbortController();
  let sockets: { close(): Promise<void>; count(): number } | null = null;
  const metrics = createMetrics({ host, wsCount: () => sockets?.count() ?? 0 });
  const version = await readFile(new URL('../package.json', import.meta.url), 'utf8')
    .then((t) => String((JSON.parse(t) as { version?: unknown }).version ?? '0.0.0'))
    .catch(() => '0.0.0');
  // One failed-auth limiter for HTTP and the WebSocket upgrade (SPEC §7).
  const limiter = createFailureLimiter({ trustProxy: cfg.HITL_TRUST_PROXY });
  const app = createApp({
    host,
    // server/ reaches the store only through these (and the host): each as narrow as its use.
    stores: { idempotency: host.idempotency, webhooks: { remember: host.rememberWebhook } },
    approvals,
    auth,
    limiter,
    log,
    publicUrl,
    webhookSecret: cfg.REPLICATE_WEBHOOK_SECRET,
    metrics,
    draining: draining.signal,
    shutdown: shutdown.signal,
    version,
  });

  const server = await new Promise<Server>((resolve) => {
    const s = serve({ fetch: app.fetch, port: cfg.PORT, hostname: listenHost }, () => resolve(s as Server));
  });
  sockets = attachWebSocket(server, { host, approvals, auth, log, limiter });

  if (cfg.WEBSOCKET_URL && cfg.WEBSOCKET_API_KEY) {
    const relay = createRelay({ url: cfg.WEBSOCKET_URL, apiKey: cfg.WEBSOCKET_API_KEY, log });
    // Only the node that wrote a change relays it, so each frame goes out once.
    const off = host.subscribe((m) => {
      if (m.node === node) relay.forward(m);
    });
    stops.push(
      () => off(),
      () => relay.close(2000),
    );
  }
  if (cfg.HITL_INSPECT) {
    const inspector = await startInspector(cfg.HITL_INSPECT, host, log);
    stops.push(() => inspector.stop());
  }
  host.start();

  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : cfg.PORT;
  const shownHost = listenHost.includes(':') ? `[${listenHost}]` : listenHost;
  log.info(
    {
      url: `http://${shownHost}:${port}`,
      node,
      postgres: pg ? 'embedded' : 'external',
      redis: Boolean(cfg.REDIS_URL),
      fan_out: cfg.REDIS_URL ? 'redis' : pg ? 'in-process' : 'postgres',
    },
    `hitl-runs listening on http://${shownHost}:${port}`,
  );

  let stopping = false;
  async function stop(signal: string): Promise<void> {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    // Stop accepting, give in-flight work up to 10 s, then answer long-polls and end streams.
    draining.abort();
    server.close();
    await host.stop(10_000);
    shutdown.abort();
    await sockets?.close();
    for (const fn of stops) await Promise.resolve(fn()).catch(() => undefined);
    metrics.close();
    server.closeIdleConnections();
    const forced = setTimeout(() => server.closeAllConnections(), 2000);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    clearTimeout(forced);
    await Promise.allSettled([store.close(), cache.close(), bus.close()]);
    await pg
      ?.stop()
      .catch((err: unknown) => log.error({ err: String(err) }, 'embedded postgres stop failed'));
    log.info('stopped');
    log.flush();
    process.exit(0);
  }
  // `on`, not `once`: a Ctrl-C reaches the whole process group, so the service may get the
  // signal twice (directly and relayed by npm/tsx); a second one must not kill the drain.
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  // The last net under background work: a promise a library drops (postgres.js during a
  // Postgres restart, see persistence/postgres.ts) is logged, never the end of the service.
  process.on('unhandledRejection', (reason: unknown) => {
    log.error({ err: reason instanceof Error ? reason.message : String(reason) }, 'unhandled rejection');
  });
}

let config: Config;
try {
  config = loadConfig();
  const inspectPort = config.HITL_INSPECT ? Number(new URL(config.HITL_INSPECT).port) || 80 : null;
  if (inspectPort !== null && inspectPort === config.PORT) {
    throw new Error('Invalid configuration:\n  HITL_INSPECT: must use a port of its own, not PORT');
  }
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
// HITL_WORKERS > 1: this process becomes the primary of N workers that each run `main`.
runWorkers(config, main, async () => {
  pg = await startEmbedded(config);
  return pg;
}).catch(async (err: unknown) => {
  process.stderr.write(`hitl-runs failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  await pg?.stop().catch(() => undefined);
  process.exit(1);
});
