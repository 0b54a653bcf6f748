/** Scratch databases, WAL position and the Postgres baseline of the e2e benchmark. */
import { randomBytes } from 'node:crypto';
import { connectPostgres } from '../../persistence/postgres.ts';

export function createScratch(adminUrl: string) {
  const admin = connectPostgres(adminUrl, { max: 2 });
  const made: string[] = [];

  async function database(): Promise<string> {
    const name = `hitl_bench_${randomBytes(4).toString('hex')}`;
    await admin`create database ${admin(name)}`;
    made.push(name);
    const u = new URL(adminUrl);
    u.pathname = `/${name}`;
    return u.toString();
  }

  /** Bytes of WAL written since `from` (the whole cluster: other databases count too). */
  async function walLsn(): Promise<string> {
    const [row] = await admin<{ lsn: string }[]>`select pg_current_wal_lsn()::text as lsn`;
    return row?.lsn ?? '0/0';
  }
  async function walSince(from: string): Promise<number> {
    const [row] = await admin<
      { d: string }[]
    >`select pg_wal_lsn_diff(pg_current_wal_lsn(), ${from}::pg_lsn)::text as d`;
    return Number(row?.d ?? 0);
  }

  /** Committed transactions of one database so far (reads included; the stats lag up to ~1 s). */
  async function xactCommit(name: string): Promise<number> {
    const [row] = await admin<
      { n: string }[]
    >`select xact_commit::text as n from pg_stat_database where datname = ${name}`;
    return Number(row?.n ?? 0);
  }

  /** Single-row durable inserts from `clients` postgres.js connections, for `ms`: inserts/s. */
  async function baseline(clients: number, ms: number): Promise<number> {
    const sql = connectPostgres(await database(), { max: clients });
    try {
      await sql`create table t (id bigserial primary key, body jsonb not null)`;
      let n = 0;
      const until = performance.now() + ms;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: clients }, async () => {
          while (performance.now() < until) {
            await sql`insert into t (body) values (${sql.json({ n })})`;
            n++;
          }
        }),
      );
      return n / ((performance.now() - t0) / 1000);
    } finally {
      await sql.end({ timeout: 5 });
    }
  }

  async function close(): Promise<void> {
    for (const name of made) await admin`drop database if exists ${admin(name)} with (force)`.catch(() => {});
    await admin.end({ timeout: 5 });
  }

  return { database, xactCommit, walLsn, walSince, baseline, close };
}
