import { fileURLToPath } from 'node:url';
import type { Sql } from 'postgres';
import shift from 'postgres-shift';

/** Where the forward-only SQL files live (`00001_init.sql`, `00002_…`). */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));

// 'hitl' in ASCII: one fixed key so every node of every version serialises on the same lock.
const MIGRATION_LOCK_KEY = 0x6869746c;

/**
 * Applies pending migrations exactly once, also when several processes start together.
 * Returns the names of the migrations this call applied. `sql` must allow at least 2 connections.
 */
export async function migrate(sql: Sql, dir: string = MIGRATIONS_DIR): Promise<string[]> {
  // The lock is held by one reserved connection while postgres-shift runs on another: shift
  // needs `sql.begin`, which a reserved connection lacks, so a pool of one would deadlock here.
  if (sql.options.max < 2) throw new Error('migrate needs a pool with max >= 2 connections');
  const applied: string[] = [];
  const lock = await sql.reserve();
  try {
    // Session-level, so it also covers the migrations table postgres-shift creates outside its
    // transaction; a crashed holder releases it when its connection closes.
    await lock`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
    try {
      await shift({
        sql,
        path: dir,
        before: (m) => applied.push(`${String(m.migration_id).padStart(5, '0')}_${m.name}`),
      });
    } finally {
      // If the connection broke, the server already dropped the lock with it.
      await lock`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`.catch(() => undefined);
    }
  } finally {
    lock.release();
  }
  return applied;
}
