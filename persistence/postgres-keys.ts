import type { Sql } from 'postgres';
import { guard } from './postgres-errors.ts';
import { iso, jsonb } from './postgres-rows.ts';
import type { RunStore } from './types.ts';

interface IdempotencyDbRow {
  key_id: string;
  key: string;
  body_hash: string;
  status: number;
  response: Record<string, unknown>;
  created_at: Date;
}

// Old rows are harmless (reads ignore them), so deleting them now and then is enough.
const PRUNE_EVERY_MS = 10 * 60_000;

/** Idempotency keys (kept 24 h) and webhook ids (kept 1 day). */
export function createKeyOps(
  sql: Sql,
): Pick<
  RunStore,
  'getIdempotency' | 'putIdempotency' | 'finishIdempotency' | 'releaseIdempotency' | 'rememberWebhook'
> {
  let lastPrune = 0;

  async function maybePrune(): Promise<void> {
    if (Date.now() - lastPrune < PRUNE_EVERY_MS) return;
    lastPrune = Date.now();
    await sql`delete from webhook_ids where seen_at < now() - interval '1 day'`;
    await sql`delete from idempotency_keys where created_at < now() - interval '24 hours'`;
  }

  return {
    getIdempotency: (keyId, key) =>
      guard('getIdempotency', async () => {
        const [row] = await sql<IdempotencyDbRow[]>`
          select key_id, key, body_hash, status, response, created_at
            from idempotency_keys
           where key_id = ${keyId} and key = ${key} and created_at > now() - interval '24 hours'
        `;
        return row === undefined ? null : { ...row, created_at: iso(row.created_at) };
      }),

    putIdempotency: (rec) =>
      guard('putIdempotency', async () => {
        await maybePrune();
        // An expired record counts as absent, so it may be replaced in place.
        const rows = await sql`
          insert into idempotency_keys (key_id, key, body_hash, status, response, created_at)
          values (${rec.key_id}, ${rec.key}, ${rec.body_hash}, ${rec.status}, ${jsonb(sql, rec.response)},
                  ${rec.created_at})
          on conflict (key_id, key) do update
             set body_hash = excluded.body_hash, status = excluded.status,
                 response = excluded.response, created_at = excluded.created_at
           where idempotency_keys.created_at <= now() - interval '24 hours'
              or (idempotency_keys.status = 0 and idempotency_keys.created_at <= now() - interval '2 minutes')
          returning key_id
        `;
        return rows.length > 0;
      }),

    finishIdempotency: (rec) =>
      guard('finishIdempotency', async () => {
        const rows = await sql`
          update idempotency_keys
             set status = ${rec.status}, response = ${jsonb(sql, rec.response)}, created_at = ${rec.created_at}
           where key_id = ${rec.key_id} and key = ${rec.key} and status = 0 and body_hash = ${rec.body_hash}
          returning key_id
        `;
        return rows.length > 0;
      }),

    releaseIdempotency: (keyId, key) =>
      guard('releaseIdempotency', async () => {
        await sql`delete from idempotency_keys where key_id = ${keyId} and key = ${key} and status = 0`;
      }),

    rememberWebhook: (webhookId) =>
      guard('rememberWebhook', async () => {
        await maybePrune();
        const rows = await sql`
          insert into webhook_ids (id) values (${webhookId})
          on conflict (id) do nothing
          returning id
        `;
        return rows.length > 0;
      }),
  };
}
