import type { Sql } from 'postgres';
import { connectPostgres } from '../../persistence/postgres.ts';
import { createPostgresBus } from '../../persistence/postgres-bus.ts';
import type { Bus } from '../../persistence/types.ts';

/**
 * `n` Postgres `LISTEN/NOTIFY` buses on the database at `url`, each on its own pool (as nodes have).
 * `listening()` waits until all of them listen (LISTEN is not retroactive); `close()` ends them.
 */
export function postgresBuses(url: string, n = 2) {
  const pools: Sql[] = [];
  const buses: Bus[] = [];
  for (let i = 0; i < n; i++) {
    const sql = connectPostgres(url, { max: 3 });
    pools.push(sql);
    buses.push(createPostgresBus(sql));
  }
  return {
    buses,
    async listening(): Promise<void> {
      for (let i = 0; i < 200 && !buses.every((x) => x.healthy()); i++)
        await new Promise((r) => setTimeout(r, 50));
    },
    async close(): Promise<void> {
      for (const bus of buses) await bus.close();
      for (const p of pools) await p.end({ timeout: 5 });
    },
  };
}
