import type { Sql } from 'postgres';

const TABLES = ['runs', 'run_events', 'timers', 'approvals', 'run_blobs'];
/** Logical commits of this store after which it looks for tables without statistics. */
const AT = [500, 5_000];

/**
 * A new database has no planner statistics until autovacuum's first round reaches it (a minute or
 * more). Meanwhile Postgres plans the store's prepared statements for tables of a few rows and
 * keeps those plans as the tables grow: the seq probe and the batch's update scanned all of
 * `runs`, its timer sync all of `timers`, on every call. So after its first 500 and 5,000 commits
 * the store analyses the tables that have never been analysed (which also replaces those plans);
 * on an established database it finds none and does nothing. Never awaited, never fails a commit.
 */
export function createAnalyzeOnGrowth(sql: Sql) {
  let commits = 0;
  let next = 0;
  return (n: number): void => {
    commits += n;
    const at = AT[next];
    if (at === undefined || commits < at) return;
    next++;
    void (async () => {
      const rows = await sql<{ relname: string }[]>`
        select relname from pg_stat_user_tables
         where relname = any(${TABLES}) and schemaname = current_schema()
           and last_analyze is null and last_autoanalyze is null
      `;
      for (const { relname } of rows) await sql`analyze ${sql(relname)}`;
    })().catch(() => undefined);
  };
}
