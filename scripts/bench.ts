/**
 * `npm run bench`: throughput and latency figures of the pure machine and the durable host.
 * Uses BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) to create a
 * scratch database, and BENCH_REDIS_URL (default redis://127.0.0.1:6379) when it answers.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { createEchoProvider } from '../actors/providers/echo.ts';
import { createProviderRegistry } from '../actors/providers/registry.ts';
import { createRunHost } from '../actors/run-host.ts';
import { startRun, step } from '../machines/run-replay.ts';
import { effectiveConfig } from '../machines/schemas.ts';
import { createMemoryBus, createMemoryCache } from '../persistence/memory.ts';
import { migrate } from '../persistence/migrate.ts';
import { connectPostgres, createPostgresStore } from '../persistence/postgres.ts';
import { connectRedis, createRedisCache } from '../persistence/redis.ts';
import { createRedisBus } from '../persistence/redis-bus.ts';

const N = Number(process.env.BENCH_RUNS ?? 500);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);

function pct(sorted: number[], p: number): string {
  const v = sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
  return `${v.toFixed(2)} ms`;
}

async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (i < items.length) await fn(items[i++] as T);
    }),
  );
}

function benchMachine(): void {
  const t = Date.parse('2026-01-01T00:00:00.000Z');
  const stamp = (k: number) => ({ at: new Date(t + k).toISOString(), actor: 'system', id: randomUUID() });
  const input = {
    type: 'run.created' as const,
    ...stamp(0),
    run_id: randomUUID(),
    config: effectiveConfig({ policy: 'auto' }, 'u'),
    user_id: 'u',
    session_id: null,
    provider: 'echo',
    tool_key: 'echo-agent-tool',
    original_input: { prompt: 'p' },
    request: { prompt: 'p', attachments: [], model_config: {} },
  };
  const caps = {
    provider: 'echo',
    model: 'echo',
    version: null,
    schema: {},
    required: [],
    types: {},
    operation_type: 'echo',
    estimated_cost: 0,
  };
  const rounds = 20_000;
  const start = performance.now();
  for (let i = 0; i < rounds; i++) {
    let s = startRun(input);
    s = step(s, {
      type: 'capabilities.reported',
      ...stamp(1),
      capabilities: caps,
      confidence: 1,
      signals: {},
    });
    s = step(s, {
      type: 'payload.built',
      ...stamp(2),
      payload: { prompt: 'p' },
      issues: [],
      changed_fields: 0,
    });
  }
  const ms = performance.now() - start;
  console.log(
    `machine: ${Math.round((rounds * 3) / (ms / 1000)).toLocaleString()} transitions/s (start + 2 events, ${rounds} runs)`,
  );
}

async function redisUp(url: string): Promise<boolean> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await r.connect();
    await r.ping();
    return true;
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

async function benchHost(label: string, adminUrl: string, redisUrl: string | null): Promise<void> {
  const name = `hitl_bench_${randomBytes(4).toString('hex')}`;
  const admin = connectPostgres(adminUrl, { max: 1 });
  await admin`create database ${admin(name)}`;
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  const sql = connectPostgres(u.toString(), { max: 20 });
  await migrate(sql);
  const prefix = `hitl-bench:${name}:`;
  const redis = redisUrl ? connectRedis(redisUrl, 'bench') : null;
  const cache = redis
    ? createRedisCache(redis, { prefix, ttlSeconds: 600 })
    : createMemoryCache({ maxEntries: 10_000 });
  const bus = redisUrl ? createRedisBus(redisUrl, { prefix }) : createMemoryBus();
  const host = createRunHost({
    store: createPostgresStore(sql),
    cache,
    bus,
    providers: createProviderRegistry([createEchoProvider()]),
    node: 'bench',
    timers: { tickMs: 50 },
  });
  host.start();
  try {
    const config = effectiveConfig({ policy: 'require_human', allowed_steps: ['information_review'] }, 'u');
    const ids: string[] = [];
    const createLat: number[] = [];
    let t0 = performance.now();
    await pool(
      Array.from({ length: N }, (_, i) => i),
      CONCURRENCY,
      async () => {
        const s = performance.now();
        const run = await host.createRun({
          run_input: { prompt: 'bench', agent_tool_config: { 'echo-agent-tool': {} } },
          config,
          user_id: 'u',
          session_id: null,
          created_by: 'service:bench',
        });
        createLat.push(performance.now() - s);
        ids.push(run.snapshot.context.run_id);
      },
    );
    const createMs = performance.now() - t0;
    // Wait until every run stopped for a human.
    const approvals = new Map<string, string>();
    while (approvals.size < ids.length) {
      for (const id of ids) {
        if (approvals.has(id)) continue;
        const run = await host.read(id);
        const open = run?.snapshot.context.approvals.find((a) => a.status === 'pending');
        if (open) approvals.set(id, open.approval_id);
      }
    }
    const readLat: number[] = [];
    for (const id of ids.slice(0, 200)) {
      const s = performance.now();
      const run = await host.read(id);
      if (run) host.view(run);
      readLat.push(performance.now() - s);
    }
    const decideLat: number[] = [];
    t0 = performance.now();
    await pool(ids, CONCURRENCY, async (id) => {
      const s = performance.now();
      await host.decide(id, { approval_id: approvals.get(id) as string, action: 'approve' }, 'user:u');
      decideLat.push(performance.now() - s);
    });
    const decideMs = performance.now() - t0;
    for (const l of [createLat, decideLat, readLat]) l.sort((a, b) => a - b);
    console.log(`host (${label}), ${N} runs, concurrency ${CONCURRENCY}:`);
    console.log(
      `  create:  ${Math.round(N / (createMs / 1000))} runs/s   p50 ${pct(createLat, 50)}  p99 ${pct(createLat, 99)}`,
    );
    console.log(
      `  decide:  ${Math.round(N / (decideMs / 1000))} decisions/s   p50 ${pct(decideLat, 50)}  p99 ${pct(decideLat, 99)}`,
    );
    console.log(`  read view (cache): p50 ${pct(readLat, 50)}  p99 ${pct(readLat, 99)}`);
  } finally {
    await host.stop(2000);
    await cache.close();
    await bus.close();
    redis?.disconnect();
    await sql.end({ timeout: 5 });
    await admin`drop database if exists ${admin(name)} with (force)`;
    await admin.end();
  }
}

async function main(): Promise<void> {
  benchMachine();
  const adminUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
  await benchHost('Postgres + memory cache', adminUrl, null);
  if (await redisUp(redisUrl)) await benchHost('Postgres + Redis', adminUrl, redisUrl);
  else console.log(`skipped Postgres + Redis: no Redis at ${redisUrl}`);
}

if (process.argv[2] === 'e2e') await import('./bench-e2e.ts');
else if (process.argv[2] === 'host') await import('./bench-host.ts');
else if (process.argv[2] === 'socket') await import('./bench-socket.ts');
else
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
