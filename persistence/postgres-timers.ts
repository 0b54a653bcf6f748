import type { Sql, TransactionSql } from 'postgres';
import { guard } from './postgres-errors.ts';
import { iso } from './postgres-rows.ts';
import type { DueTimer, RunStore, TimerSpec } from './types.ts';

interface DueTimerDbRow {
  id: string;
  run_id: string | null;
  kind: TimerSpec['kind'];
  key: string;
  fire_at: Date;
  attempts: number;
}

const isTimerId = (id: string): boolean => /^[0-9]{1,18}$/.test(id);

/**
 * Makes `specs` the complete set of timers of one owner (a run, or a standalone approval):
 * others are deleted, new ones inserted, and existing (kind, key) pairs keep fire_at and claim.
 */
export async function syncTimers(
  tx: TransactionSql,
  ownerId: string,
  runId: string | null,
  specs: TimerSpec[],
): Promise<void> {
  const kinds = specs.map((t) => t.kind);
  const keys = specs.map((t) => t.key);
  const fireAts = specs.map((t) => t.fire_at);
  // One-shot work (`cancel`) is not a wake-up the state wants: only its handler removes it.
  await tx`
    delete from timers t
     where t.owner_id = ${ownerId} and t.kind <> 'cancel'
       and not exists (
         select 1 from unnest(${kinds}::text[], ${keys}::text[]) as wanted (kind, key)
          where wanted.kind = t.kind and wanted.key = t.key)
  `;
  if (specs.length === 0) return;
  await tx`
    insert into timers (owner_id, run_id, kind, key, fire_at)
    select ${ownerId}, ${runId}, wanted.kind, wanted.key, wanted.fire_at
      from unnest(${kinds}::text[], ${keys}::text[], ${fireAts}::timestamptz[]) as wanted (kind, key, fire_at)
    on conflict (owner_id, kind, key) do nothing
  `;
}

/** The timer half of `RunStore`. */
export function createTimerOps(
  sql: Sql,
): Pick<RunStore, 'claimDueTimers' | 'completeTimer' | 'rescheduleTimer'> {
  return {
    claimDueTimers: (node, limit, claimMs) =>
      guard('claimDueTimers', async () => {
        // SKIP LOCKED lets many claimers run at once; a claim whose node died is taken again
        // once claimed_until passes. `attempts - 1` = claims before this one.
        const rows = await sql<DueTimerDbRow[]>`
          update timers t
             set claimed_by = ${node},
                 claimed_until = now() + ${claimMs}::double precision * interval '1 millisecond',
                 attempts = t.attempts + 1
           where t.id in (
             select id from timers
              where fire_at <= now() and (claimed_until is null or claimed_until < now())
              order by fire_at
              limit ${limit}
              for update skip locked)
          returning t.id::text as id, t.run_id, t.kind, t.key, t.fire_at, t.attempts - 1 as attempts
        `;
        return rows
          .map(
            (r): DueTimer => ({
              id: r.id,
              run_id: r.run_id,
              kind: r.kind,
              key: r.key,
              fire_at: iso(r.fire_at),
              attempts: r.attempts,
            }),
          )
          .sort((a, b) => a.fire_at.localeCompare(b.fire_at));
      }),

    completeTimer: (id) =>
      guard('completeTimer', async () => {
        if (!isTimerId(id)) return;
        await sql`delete from timers where id = ${id}`;
      }),

    rescheduleTimer: (id, fireAt, countAttempt = false) =>
      guard('rescheduleTimer', async () => {
        if (!isTimerId(id)) return;
        // A handled wake-up starts a fresh count: attempts measures claims that never came back.
        // A work item that failed keeps its count (attempts already counts this claim).
        await sql`
          update timers
             set fire_at = ${fireAt}, claimed_by = null, claimed_until = null,
                 attempts = case when ${countAttempt} then attempts else 0 end
           where id = ${id}
        `;
      }),
  };
}
