import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, migrate } from '../../persistence/migrate.ts';
import { connectPostgres } from '../../persistence/postgres.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

const dbs: TestDatabase[] = [];
/** Every migration file, in order, and the ids postgres-shift records for them. */
const ALL = readdirSync(MIGRATIONS_DIR)
  .filter((f) => /^\d{5}_.*\.sql$/.test(f))
  .sort();
const IDS = ALL.map((f) => ({ migration_id: Number(f.slice(0, 5)) }));

afterEach(async () => {
  for (const db of dbs.splice(0)) await db.drop();
});

async function freshDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase({ migrated: false });
  dbs.push(db);
  return db;
}

const appliedRows = (db: TestDatabase) =>
  db.sql<{ migration_id: number }[]>`select migration_id from migrations order by migration_id`;

function runMigrateScript(url: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npx', ['tsx', 'scripts/migrate.ts'], {
      env: { ...process.env, DATABASE_URL: url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('migrations', () => {
  it('apply once, and a second run in a row does nothing', async () => {
    const db = await freshDatabase();
    expect(await migrate(db.sql)).toEqual(ALL);
    expect(await migrate(db.sql)).toEqual([]);
    expect(await appliedRows(db)).toEqual(IDS);
    const tables = await db.sql<{ tablename: string }[]>`
      select tablename from pg_tables where schemaname = 'public' order by tablename`;
    expect(tables.map((t) => t.tablename)).toEqual([
      'approvals',
      'bus_messages',
      'idempotency_keys',
      'migrations',
      'run_blobs',
      'run_events',
      'runs',
      'timers',
      'webhook_ids',
    ]);
  });

  it('apply exactly once when two processes start together', { timeout: 60_000 }, async () => {
    const db = await freshDatabase();
    const [a, b] = await Promise.all([runMigrateScript(db.url), runMigrateScript(db.url)]);
    expect([a.code, b.code]).toEqual([0, 0]);
    const said = [a.out, b.out].map((o) =>
      o.includes('applied 00001_init.sql') ? 'applied' : o.includes('up to date') ? 'none' : o,
    );
    expect(said.sort()).toEqual(['applied', 'none']);
    expect(await appliedRows(db)).toEqual(IDS);
  });

  it('apply exactly once when many pools of one process race', async () => {
    const db = await freshDatabase();
    const pools = Array.from({ length: 4 }, () => connectPostgres(db.url, { max: 2 }));
    try {
      const results = await Promise.all(pools.map((p) => migrate(p)));
      expect(results.flat()).toEqual(ALL);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it('refuses a pool too small to hold the lock and migrate at once', async () => {
    const db = await freshDatabase();
    const one = connectPostgres(db.url, { max: 1 });
    try {
      await expect(migrate(one)).rejects.toThrow(/max >= 2/);
    } finally {
      await one.end();
    }
  });
});
