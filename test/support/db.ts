import { randomBytes } from 'node:crypto';
import type { Sql } from 'postgres';
import postgres from 'postgres';
import { inject } from 'vitest';
import { migrate } from '../../persistence/migrate.ts';
import { connectPostgres } from '../../persistence/postgres.ts';

/** A database of one's own, so test files can run in parallel. */
export interface TestDatabase {
  name: string;
  url: string;
  /** A pool on it (max 10); `drop()` ends it. */
  sql: Sql;
  drop(): Promise<void>;
}

/** `url` pointing at another database on the same server. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function asAdmin(run: (sql: Sql) => Promise<unknown>): Promise<void> {
  const admin = postgres(inject('pgAdminUrl'), { max: 1, onnotice: () => undefined });
  try {
    await run(admin);
  } finally {
    await admin.end({ timeout: 5 });
  }
}

/** Creates `hitl_t_<random>` (migrated unless `migrated: false`). */
export async function createTestDatabase(options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const name = `hitl_t_${randomBytes(6).toString('hex')}`;
  await asAdmin((admin) => admin`create database ${admin(name)}`);
  const url = withDatabase(inject('pgAdminUrl'), name);
  const sql = connectPostgres(url, { max: 10 });
  if (options.migrated !== false) await migrate(sql);
  return {
    name,
    url,
    sql,
    async drop() {
      await sql.end({ timeout: 5 }).catch(() => undefined);
      // WITH (FORCE) (PG 13+) also ends connections a failed test left open.
      await asAdmin((admin) => admin`drop database if exists ${admin(name)} with (force)`);
    },
  };
}
