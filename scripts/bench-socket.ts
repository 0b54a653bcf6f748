/**
 * `npm run bench -- socket [--socket-dir /var/run/postgresql] [--queries 20000] [--rounds 3]`: the
 * cost of a Postgres query over loopback TCP against the Unix-domain socket (`?host=/dir`), with
 * a postgres.js pool of 16 as the service has, alternating. Prints queries/s and the client's CPU
 * per query (user + system). Uses BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres).
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { connectPostgres } from '../persistence/postgres.ts';

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== 'socket'),
  options: {
    'socket-dir': { type: 'string', default: '/var/run/postgresql' },
    queries: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '3' },
  },
});
const tcpUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const port = new URL(tcpUrl).port || '5432';
const dir = String(args['socket-dir']);
if (!existsSync(`${dir}/.s.PGSQL.${port}`)) {
  console.log(`bench socket: no PostgreSQL socket ${dir}/.s.PGSQL.${port}; nothing measured`);
  process.exit(0);
}
const socketUrl = `${tcpUrl}${tcpUrl.includes('?') ? '&' : '?'}host=${encodeURIComponent(dir)}`;
const queries = Number(args.queries);
// About a commit's parameters: an envelope and a view of a few kB.
const payload = 'x'.repeat(8000);

async function measure(url: string): Promise<{ perS: number; cpuUs: number }> {
  const sql = connectPostgres(url, { max: 16 });
  try {
    await sql`select 1`;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let sent = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (sent++ < queries) await sql`select length(${payload}::text) as n`;
      }),
    );
    const cpu = process.cpuUsage(cpu0);
    const s = (performance.now() - t0) / 1000;
    return { perS: queries / s, cpuUs: (cpu.user + cpu.system) / queries };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

console.log(
  `bench socket: ${queries} queries (8 kB parameter), 16 connections, ${args.rounds} alternating rounds`,
);
console.log('| round | transport | queries/s | client CPU µs/query |\n|---|---|---|---|');
for (let round = 1; round <= Number(args.rounds); round++) {
  for (const [name, url] of [
    ['loopback TCP', tcpUrl],
    [`socket ${dir}`, socketUrl],
  ] as const) {
    const r = await measure(url);
    console.log(
      `| ${round} | ${name} | ${Math.round(r.perS).toLocaleString('en-US')} | ${r.cpuUs.toFixed(0)} |`,
    );
  }
}
