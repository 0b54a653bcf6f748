import { randomBytes } from 'node:crypto';
import type { Sql } from 'postgres';
import { afterAll, beforeAll, inject } from 'vitest';
import { migrate } from '../../persistence/migrate.ts';
import { connectPostgres, createPostgresStore } from '../../persistence/postgres.ts';
import type { RunStore } from '../../persistence/types.ts';

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
  const admin = connectPostgres(inject('pgAdminUrl'), { max: 1 });
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

/** A Postgres store on a new, migrated database of the test file's own (dropped after the file). */
export function storeOnTestDatabase(): { readonly db: TestDatabase; readonly store: RunStore } {
  let db: TestDatabase | undefined;
  let store: RunStore | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
    store = createPostgresStore(db.sql);
  });
  afterAll(async () => {
    await db?.drop();
  });
  const ready = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('the test database is made in beforeAll');
    return v;
  };
  return {
    get db() {
      return ready(db);
    },
    get store() {
      return ready(store);
    },
  };
}
