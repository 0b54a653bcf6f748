/**
 * `npm run bench -- host`: the e2e run shape (create, approve, wait for the provider's answer,
 * approve) driven against the run host in this process, without HTTP, so that the host's cost per
 * run is seen apart from the HTTP layer's. The fake Replicate runs in a child process (its CPU is
 * not counted). Each variant is measured `--rounds` times, alternating:
 *
 * - `Postgres + Redis`: as the e2e benchmark's service (real stores);
 * - `Postgres + in-process cache and bus`: the stores of a single node without Redis;
 * - `commits answered at once + Redis`: a store whose group commit answers without Postgres, so
 *   the difference to the first is what the Postgres write path costs the host (building the
 *   batch, postgres.js), not what it costs Postgres.
 *
 * Printed per variant: runs/s and this process's user + system CPU per run over the window.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createProviderRegistry } from '../actors/providers/registry.ts';
import { createReplicateProvider } from '../actors/providers/replicate.ts';
import { createRunHost, type RunHost } from '../actors/run-host.ts';
import type { LoadedRun } from '../actors/run-load.ts';
import type { HostMessage } from '../actors/run-messages.ts';
import { effectiveConfig, isTerminalStatus } from '../machines/schemas.ts';
import { createMemoryBus, createMemoryCache } from '../persistence/memory.ts';
import { migrate } from '../persistence/migrate.ts';
import { connectPostgres, createPostgresStore } from '../persistence/postgres.ts';
import { connectRedis, createRedisBus, createRedisCache } from '../persistence/redis.ts';
import type { RunStore } from '../persistence/types.ts';
import { BENCH_TOOL } from './bench/fake.ts';
import { createScratch } from './bench/pg.ts';

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== 'host'),
  options: {
    clients: { type: 'string', default: '16' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '15' },
    rounds: { type: 'string', default: '2' },
  },
});
const CLIENTS = Number(args.clients);
const WINDOW_MS = Number(args.seconds) * 1000;
const WARMUP_MS = Number(args.warmup) * 1000;
const ROUNDS = Math.max(1, Number(args.rounds));
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

type Variant =
  | 'Postgres + Redis'
  | 'Postgres + in-process cache and bus'
  | 'commits answered at once + Redis';
const VARIANTS: Variant[] = [
  'Postgres + Redis',
  'Postgres + in-process cache and bus',
  'commits answered at once + Redis',
];

async function startFake(): Promise<{ url: string; proc: ChildProcess }> {
  const script = fileURLToPath(new URL('./bench/fake-replicate-process.ts', import.meta.url));
  const proc = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    proc.once('exit', () => reject(new Error('the fake Replicate exited')));
    createInterface({ input: proc.stdout! }).on('line', (l) => {
      const m = /listening on (\S+)/.exec(l);
      if (m?.[1]) resolve(m[1]);
    });
  });
  return { url, proc };
}

/** Resolves with the run once a committed change of it (after `seq`) waits for a human or ended. */
function settled(host: RunHost, runId: string, seq: number): Promise<LoadedRun> {
  return new Promise((resolve, reject) => {
    let last = seq;
    const check = (atLeast: number) =>
      void host.readAtLeast(runId, atLeast).then((run) => {
        if (
          run &&
          run.seq > seq &&
          (host.view(run).status === 'awaiting_human' || isTerminalStatus(host.view(run).status))
        ) {
          off();
          resolve(run);
        }
      }, reject);
    const off = host.subscribe((m: HostMessage) => {
      if (m.kind !== 'run' || m.run_id !== runId || m.seq <= last) return;
      last = m.seq;
      check(m.seq);
    });
    // Committed before this subscribed: the copy in this process has it.
    check(seq);
  });
}

async function measure(variant: Variant, scratch: ReturnType<typeof createScratch>, fakeUrl: string) {
  const url = await scratch.database();
  const sql = connectPostgres(url);
  await migrate(sql);
  const prefix = `hitl-bench-host:${new URL(url).pathname.slice(1)}:`;
  const inProcess = variant === 'Postgres + in-process cache and bus';
  const redis = inProcess ? null : connectRedis(REDIS_URL, 'bench-host');
  const cache = redis
    ? createRedisCache(redis, { prefix, ttlSeconds: 600 })
    : createMemoryCache({ maxEntries: 10_000 });
  const bus = inProcess ? createMemoryBus() : createRedisBus(REDIS_URL, { prefix });
  const postgresStore = createPostgresStore(sql);
  const store: RunStore =
    variant === 'commits answered at once + Redis'
      ? { ...postgresStore, commitBatch: async (items) => items.map(() => null) }
      : postgresStore;
  const host = createRunHost({
    store,
    cache,
    bus,
    providers: createProviderRegistry([createReplicateProvider({ token: 'r8_bench', baseUrl: fakeUrl })]),
    node: 'bench-host',
  });
  host.start();
  const config = effectiveConfig(
    { policy: 'require_human', allowed_steps: ['payload_review', 'response_review'] },
    'bench',
  );
  let runs = 0;
  let stop = false;
  let failure: unknown = null;
  const client = async () => {
    while (!stop) {
      let run = await host.createRun({
        run_input: { prompt: 'A lighthouse at dusk', agent_tool_config: BENCH_TOOL },
        config,
        user_id: 'bench',
        session_id: null,
        created_by: 'service:bench',
      });
      const id = run.snapshot.context.run_id;
      // The model's schema is looked up once (I/O): until then the create's chain stops before it.
      if (host.view(run).status !== 'awaiting_human') run = await settled(host, id, run.seq);
      for (let k = 0; k < 2; k++) {
        const open = run.snapshot.context.approvals.find((a) => a.status === 'pending');
        if (!open) throw new Error(`run ${id} has no open approval at ${host.view(run).current_step}`);
        // Listening before deciding: the first decision's commit starts the prediction, whose
        // answer is a later commit of its own.
        const next = settled(host, id, run.seq);
        run = await host.decide(id, { approval_id: open.approval_id, action: 'approve' }, 'user:bench');
        if (host.view(run).status !== 'awaiting_human' && !isTerminalStatus(host.view(run).status))
          run = await next;
      }
      if (!isTerminalStatus(host.view(run).status)) throw new Error(`run ${id} did not end`);
      runs++;
    }
  };
  const clients = Array.from({ length: CLIENTS }, () =>
    client().catch((err: unknown) => {
      failure ??= err;
    }),
  );
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  const r0 = runs;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, WINDOW_MS));
  const cpu = process.cpuUsage(c0);
  const n = runs - r0;
  const seconds = (performance.now() - t0) / 1000;
  stop = true;
  await Promise.all(clients);
  await host.stop(2000);
  await Promise.all([cache.close(), bus.close()]);
  redis?.disconnect();
  await sql.end({ timeout: 5 });
  if (failure) throw failure;
  return { runsPerS: n / seconds, cpuMs: (cpu.user + cpu.system) / 1000 / n };
}

async function main(): Promise<void> {
  const scratch = createScratch(ADMIN_URL);
  const fake = await startFake();
  const results = new Map<Variant, Array<{ runsPerS: number; cpuMs: number }>>();
  try {
    for (let round = 1; round <= ROUNDS; round++)
      for (const v of VARIANTS) {
        const r = await measure(v, scratch, fake.url);
        results.set(v, [...(results.get(v) ?? []), r]);
        process.stderr.write(
          `round ${round} ${v}: ${r.runsPerS.toFixed(1)} runs/s, ${r.cpuMs.toFixed(2)} ms/run\n`,
        );
      }
  } finally {
    fake.proc.kill('SIGTERM');
    await scratch.close();
  }
  console.log(
    `host: the e2e run shape without HTTP, ${CLIENTS} clients in this process, ${WINDOW_MS / 1000} s window after ${WARMUP_MS / 1000} s warm-up, ${ROUNDS} rounds alternating (each round's figure)`,
  );
  console.log('| stores | runs/s | host CPU ms/run |');
  console.log('|---|---|---|');
  for (const v of VARIANTS) {
    const rs = results.get(v) ?? [];
    console.log(
      `| ${v} | ${rs.map((r) => r.runsPerS.toFixed(1)).join(', ')} | ${rs.map((r) => r.cpuMs.toFixed(2)).join(', ')} |`,
    );
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
