import { describe, expect, it } from 'vitest';
import { storeOnTestDatabase } from '../support/db.ts';
import { newRun } from '../support/store-fixtures.ts';

// A new database has no planner statistics until autovacuum reaches it; the store's prepared
// statements were then planned (and kept) for tables of a few rows: sequential scans of `runs` on
// every probe and batch. The store analyses never-analysed tables after its first 500 commits.

const t = storeOnTestDatabase();

const lastAnalyze = async (table: string) => {
  const [row] = await t.db.sql<{ at: Date | null }[]>`
    select last_analyze as at from pg_stat_user_tables where relname = ${table}`;
  return row?.at ?? null;
};

async function createRuns(n: number): Promise<void> {
  for (let i = 0; i < n; i += 50) {
    const results = await t.store.commitBatch(
      Array.from({ length: 50 }, () => ({ kind: 'create' as const, run: newRun() })),
    );
    expect(results.every((r) => r === null)).toBe(true);
  }
}

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('planner statistics on a new database', () => {
  it('are gathered after the first 500 commits, so the seq probe finds runs by primary key', async () => {
    expect(await lastAnalyze('runs')).toBeNull();
    await createRuns(450);
    await new Promise((r) => setTimeout(r, 300));
    expect(await lastAnalyze('runs')).toBeNull();
    await createRuns(50);
    // The tables are analysed one after the other, in the background of the commits.
    const at = await until(
      () => Promise.all(['runs', 'run_events', 'timers'].map(lastAnalyze)),
      (v) => v.every((x) => x !== null),
    );
    expect(at).toEqual([expect.any(Date), expect.any(Date), expect.any(Date)]);
    const plan = await t.db.sql.unsafe<{ 'QUERY PLAN': string }[]>(
      `explain select seq from runs where run_id = any('{${newRun().record.run_id}}'::uuid[])`,
    );
    expect(plan.map((p) => p['QUERY PLAN']).join('\n')).toMatch(/runs_pkey/);
  });

  it('are not gathered again once the tables have them', async () => {
    const before = await lastAnalyze('runs');
    expect(before).not.toBeNull();
    await createRuns(4_550);
    await new Promise((r) => setTimeout(r, 500));
    expect(await lastAnalyze('runs')).toEqual(before);
  });
});
