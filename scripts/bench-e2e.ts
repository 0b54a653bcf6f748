/**
 * `npm run bench -- e2e [--before DIR] [--clients 16,64] [--seconds 10] [--warmup 20] [--workers N]
 *   [--prompt-bytes N] [--rounds N]`
 *
 * The run shape of issue 7 through the real start command (`server/main.ts` as a child process)
 * on Postgres + Redis, driven by a keep-alive `node:http` client, with a fake Replicate answering
 * creates already `succeeded`. Prints, per system and concurrency: runs/s, decision→ack p50/p99,
 * logical commits and Postgres write transactions per run (the service's counters), server CPU ms
 * per run, Postgres CPU ms per run (every `postgres` process of the cluster), WAL bytes per run;
 * and, in the same invocation, the ceiling (a do-nothing server, same client) and a Postgres
 * baseline (single-row durable inserts, 16 clients). The default warm-up (20 s) lets V8 finish
 * optimizing: with 3 s its compiler was still about a tenth of the service's CPU in the window.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createClient, drive, percentile } from './bench/client.ts';
import { BENCH_TOOL, startBenchFake } from './bench/fake.ts';
import { createScratch } from './bench/pg.ts';
import { machineTicks, processCpuMs, type Service, startService } from './bench/service.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const NULL_SERVER = fileURLToPath(new URL('./bench/null-server.ts', import.meta.url));

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== 'e2e'),
  options: {
    before: { type: 'string' },
    clients: { type: 'string', default: '16,64' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '20' },
    workers: { type: 'string' },
    'skip-ceiling': { type: 'boolean', default: false },
    /** Write a V8 CPU profile of each "after" server into this directory. */
    profile: { type: 'string' },
    /** Pad every run's prompt to this many bytes (write volume of a large input). */
    'prompt-bytes': { type: 'string' },
    /** Measure every system this many times, alternating (the machine's speed drifts between
     *  runs): prints each round, the medians, and each round's ratios to "after". */
    rounds: { type: 'string', default: '1' },
    /** Run the services as `npm start` does on a fresh machine: their embedded PostgreSQL, with
     *  the in-process cache and fan-out (no DATABASE_URL, no REDIS_URL). */
    embedded: { type: 'boolean', default: false },
    /** Postgres without Redis: the in-process cache, fan-out through Postgres LISTEN/NOTIFY. */
    'no-redis': { type: 'boolean', default: false },
  },
});
const CLIENTS = String(args.clients)
  .split(',')
  .map((c) => Number(c));
const WINDOW_MS = Number(args.seconds) * 1000;
const WARMUP_MS = Number(args.warmup) * 1000;
const ROUNDS = Math.max(1, Number(args.rounds));
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PROMPT_BYTES = args['prompt-bytes'] === undefined ? 0 : Number(args['prompt-bytes']);
// Random text: a repeated phrase would be compressed away by Postgres (TOAST) and hide the volume.
const PROMPT =
  PROMPT_BYTES > 0
    ? randomBytes(Math.ceil(PROMPT_BYTES * 0.75) + 3)
        .toString('base64')
        .slice(0, PROMPT_BYTES)
    : undefined;
const EMBEDDED = args.embedded === true;
const NO_REDIS = args['no-redis'] === true;
// The services inherit this process's environment: stores left out must not come in through it.
if (EMBEDDED || NO_REDIS) delete process.env.REDIS_URL;
if (EMBEDDED) delete process.env.DATABASE_URL;
const KEY = `bench-${randomBytes(12).toString('hex')}`;

const profileArgs = (dir: string) =>
  args.profile && dir === ROOT ? ['--cpu-prof', `--cpu-prof-dir=${args.profile}`] : [];

interface Row {
  round: number;
  system: string;
  clients: number;
  runsPerS: number;
  p50: number;
  p99: number;
  commits: number | null;
  writeTx: number | null;
  xacts: number;
  cpuMs: number;
  pgCpuMs: number;
  walBytes: number;
  /** Share of the machine's CPU time stolen by the hypervisor during the window, in %. */
  stealPct: number;
  errors: string[];
}

/** The service's own counters (absent on builds that do not count). */
async function counters(client: ReturnType<typeof createClient>): Promise<Map<string, number>> {
  const a = await client.call('GET', '/metrics').catch(() => null);
  const out = new Map<string, number>();
  const text = typeof a?.body.text === 'string' ? a.body.text : '';
  for (const m of text.matchAll(/^(hitl_commits_total|hitl_write_transactions_total) (\d+(?:\.\d+)?)$/gm)) {
    out.set(m[1] as string, Number(m[2]));
  }
  return out;
}

async function measure(
  system: string,
  dir: string,
  scratch: ReturnType<typeof createScratch>,
  replicateUrl: string,
  clients: number,
  round: number,
  extraEnv: Record<string, string> = {},
): Promise<Row> {
  const databaseUrl = await scratch.database();
  const isNull = system === 'ceiling';
  const dataDir = `/tmp/hitl-bench-${randomBytes(4).toString('hex')}`;
  // Embedded: the service's own PostgreSQL in its data dir; Postgres figures of the scratch
  // database (transactions, WAL) do not apply.
  const stores: Record<string, string> = EMBEDDED
    ? {}
    : NO_REDIS
      ? { DATABASE_URL: databaseUrl }
      : { DATABASE_URL: databaseUrl, REDIS_URL };
  const service: Service = isNull
    ? await startService(ROOT, ['--import', 'tsx', NULL_SERVER], {})
    : await startService(
        dir,
        [...profileArgs(dir), '--import', 'tsx', 'server/main.ts'],
        {
          PORT: '0',
          ...stores,
          HITL_API_KEYS: KEY,
          REPLICATE_API_TOKEN: 'r8_bench',
          REPLICATE_BASE_URL: replicateUrl,
          HITL_DATA_DIR: dataDir,
          LOG_LEVEL: 'info',
          ...extraEnv,
        },
        // The embedded PostgreSQL's first start makes its cluster (initdb).
        EMBEDDED ? 180_000 : 60_000,
      );
  const client = createClient(
    {
      url: service.url,
      key: KEY,
      tool: BENCH_TOOL,
      ...(PROMPT !== undefined ? { prompt: PROMPT } : {}),
    },
    clients * 2,
  );
  const edge: Record<
    string,
    {
      cpu: number;
      pg: number;
      wal: string;
      c: Map<string, number>;
      x: number;
      m: ReturnType<typeof machineTicks>;
    }
  > = {};
  const xacts = async () => {
    const dbName = new URL(databaseUrl).pathname.slice(1);
    return scratch.xactCommit(dbName);
  };
  try {
    const r = await drive(client, clients, WARMUP_MS, WINDOW_MS, async (at) => {
      const c = isNull ? new Map<string, number>() : await counters(client);
      edge[at] = {
        cpu: service.cpuMs(),
        pg: processCpuMs('postgres'),
        wal: await scratch.walLsn(),
        c,
        x: await xacts(),
        m: machineTicks(),
      };
    });
    const s = edge.start!;
    const e = edge.end!;
    const wal = await scratch.walSince(s.wal);
    const walAtEnd = await scratch.walSince(e.wal);
    const per = (v: number) => (r.runs > 0 ? v / r.runs : Number.NaN);
    // With several workers /metrics answers for the one worker it reached: not a per-run figure.
    const clustered = extraEnv.HITL_WORKERS !== undefined;
    const diff = (name: string) => {
      if (clustered) return null;
      const a = s.c.get(name);
      const b = e.c.get(name);
      return a === undefined || b === undefined ? null : per(b - a);
    };
    return {
      round,
      system,
      clients,
      runsPerS: r.runs / r.seconds,
      p50: percentile(r.ackMs, 50),
      p99: percentile(r.ackMs, 99),
      commits: diff('hitl_commits_total'),
      writeTx: diff('hitl_write_transactions_total'),
      xacts: EMBEDDED ? Number.NaN : per(e.x - s.x),
      cpuMs: per(e.cpu - s.cpu),
      pgCpuMs: per(e.pg - s.pg),
      walBytes: EMBEDDED ? Number.NaN : per(wal - walAtEnd),
      stealPct: (100 * (e.m.steal - s.m.steal)) / (e.m.total - s.m.total),
      errors: r.errors,
    };
  } finally {
    client.close();
    await service.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const fmt = (v: number | null, digits = 1) =>
  v === null || Number.isNaN(v) ? 'n/a' : v.toLocaleString('en-US', { maximumFractionDigits: digits });

const median = (xs: number[]): number => {
  const v = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? (v[m] as number) : ((v[m - 1] as number) + (v[m] as number)) / 2;
};

/** One row of the medians of several rounds of one system and concurrency. */
function medianRow(rs: Row[]): Row {
  const first = rs[0] as Row;
  const of = (pick: (r: Row) => number | null) => {
    const vs = rs.map(pick);
    return vs.some((v) => v === null) ? null : median(vs as number[]);
  };
  return {
    round: 0,
    system: first.system,
    clients: first.clients,
    runsPerS: median(rs.map((r) => r.runsPerS)),
    p50: median(rs.map((r) => r.p50)),
    p99: median(rs.map((r) => r.p99)),
    commits: of((r) => r.commits),
    writeTx: of((r) => r.writeTx),
    xacts: median(rs.map((r) => r.xacts)),
    cpuMs: median(rs.map((r) => r.cpuMs)),
    pgCpuMs: median(rs.map((r) => r.pgCpuMs)),
    walBytes: median(rs.map((r) => r.walBytes)),
    stealPct: median(rs.map((r) => r.stealPct)),
    errors: rs.flatMap((r) => r.errors),
  };
}

function printTable(
  rows: Row[],
  ceilingOf: (round: number, clients: number) => number | undefined,
  withRound: boolean,
): void {
  console.log(
    `| ${withRound ? 'round | ' : ''}system | clients | runs/s | ÷ ceiling | decision→ack p50 / p99 ms | commits/run | write tx/run | xact_commit/run | server CPU ms/run | Postgres CPU ms/run | WAL bytes/run |`,
  );
  console.log(`|${withRound ? '---|' : ''}---|---|---|---|---|---|---|---|---|---|---|`);
  for (const r of rows) {
    const ceil = ceilingOf(r.round, r.clients);
    const c = r.system === 'ceiling';
    console.log(
      `| ${withRound ? `${r.round} | ` : ''}${r.system} | ${r.clients} | ${fmt(r.runsPerS)} | ${ceil ? `${fmt((100 * r.runsPerS) / ceil)} %` : 'n/a'} | ${c ? 'n/a' : `${fmt(r.p50)} / ${fmt(r.p99)}`} | ${fmt(r.commits)} | ${fmt(r.writeTx)} | ${c ? 'n/a' : fmt(r.xacts)} | ${fmt(r.cpuMs, 2)} | ${c ? 'n/a' : fmt(r.pgCpuMs, 2)} | ${c ? 'n/a' : fmt(r.walBytes, 0)} |`,
    );
  }
}

async function main(): Promise<void> {
  const scratch = createScratch(ADMIN_URL);
  const fake = await startBenchFake();
  const rows: Row[] = [];
  try {
    const systems: Array<[string, string, Record<string, string>]> = [];
    if (!args['skip-ceiling']) systems.push(['ceiling', ROOT, {}]);
    if (args.before) systems.push(['before', String(args.before), {}]);
    systems.push(['after', ROOT, {}]);
    if (args.workers)
      systems.push([`after, HITL_WORKERS=${args.workers}`, ROOT, { HITL_WORKERS: String(args.workers) }]);
    for (let round = 1; round <= ROUNDS; round++) {
      for (const clients of CLIENTS) {
        for (const [system, dir, env] of systems) {
          const row = await measure(system, dir, scratch, fake.url, clients, round, env);
          rows.push(row);
          process.stderr.write(
            `${ROUNDS > 1 ? `round ${round} ` : ''}${system} c${clients}: ${fmt(row.runsPerS)} runs/s, steal ${fmt(row.stealPct)} %${row.errors.length ? ` (${row.errors.length} errors: ${row.errors[0]})` : ''}\n`,
          );
        }
      }
    }
    const pgBase = await scratch.baseline(16, 5000);
    const ceilingOf = (round: number, clients: number) =>
      rows.find((r) => r.system === 'ceiling' && r.round === round && r.clients === clients)?.runsPerS;
    console.log(
      `e2e: ${WINDOW_MS / 1000} s window after ${WARMUP_MS / 1000} s warm-up; ${EMBEDDED ? 'embedded PostgreSQL, in-process cache and fan-out' : NO_REDIS ? 'Postgres, no Redis (in-process cache, fan-out through LISTEN/NOTIFY)' : 'Postgres + Redis'}; fake Replicate answers creates succeeded${PROMPT ? `; prompt ${PROMPT.length.toLocaleString('en-US')} bytes` : ''}${ROUNDS > 1 ? `; ${ROUNDS} rounds, alternating` : ''}`,
    );
    printTable(rows, ceilingOf, ROUNDS > 1);
    if (ROUNDS > 1) {
      console.log(`Medians of ${ROUNDS} rounds:`);
      const medians: Row[] = [];
      for (const clients of CLIENTS)
        for (const [system] of systems)
          medians.push(medianRow(rows.filter((r) => r.system === system && r.clients === clients)));
      printTable(
        medians,
        (_round, clients) => medians.find((r) => r.system === 'ceiling' && r.clients === clients)?.runsPerS,
        false,
      );
      // Runs/s ratios per round: the after against the before, the workers against the after.
      const pairs = systems
        .map(([system]) => system)
        .filter((name) => name !== 'ceiling' && name !== 'after')
        .map((name) => (name === 'before' ? (['after', 'before'] as const) : ([name, 'after'] as const)));
      for (const clients of CLIENTS)
        for (const [num, den] of pairs) {
          const ratios = Array.from({ length: ROUNDS }, (_, i) => {
            const of = (name: string) =>
              rows.find((r) => r.system === name && r.round === i + 1 && r.clients === clients)?.runsPerS;
            const a = of(num);
            const b = of(den);
            return a && b ? `${fmt(a / b, 2)}×` : 'n/a';
          });
          console.log(`${num} ÷ ${den}, c${clients}, round by round: ${ratios.join(', ')}`);
        }
    }
    console.log(
      `Postgres baseline (postgres.js, 16 clients, single-row durable inserts): ${fmt(pgBase, 0)} inserts/s`,
    );
    const steal = rows.map((r) => r.stealPct).filter((v) => !Number.isNaN(v));
    if (steal.length > 0)
      console.log(
        `CPU time stolen by the hypervisor during the windows (% of the machine's): median ${fmt(median(steal))} %, ${fmt(Math.min(...steal))}–${fmt(Math.max(...steal))} %`,
      );
    const errs = rows.filter((r) => r.errors.length > 0);
    for (const r of errs)
      console.log(`errors in ${r.system} c${r.clients}: ${r.errors.slice(0, 3).join(' | ')}`);
  } finally {
    await fake.close();
    await scratch.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
