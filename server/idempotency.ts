import { createHash } from 'node:crypto';
import type { Context } from 'hono';
import { canonical } from '../actors/canonical.ts';
import { HitlError } from '../actors/errors.ts';
import { createKeyedQueue, type KeyedQueue } from '../actors/keyed-queue.ts';
import type { AppEnv } from './app-env.ts';
import type { Principal } from './auth/auth.ts';
import type { ServerStores } from './deps.ts';
import { jsonAnswer } from './json-answer.ts';

const KEY = /^[\x21-\x7e]{1,255}$/;
/** How long a request waits for another one producing the same key before answering 409. */
const CLAIM_WAIT_MS = 30_000;

/** What a create route answers; stored under the Idempotency-Key. */
export interface Produced {
  status: 200 | 201 | 202;
  body: Record<string, unknown>;
}

/**
 * `Idempotency-Key` (SPEC §3): per service key, kept 24 h. Same key + same body → the stored
 * response with `Idempotent-Replayed: true`; another body → 409 idempotency_conflict. Only
 * successes are stored, so a failed request may be retried with the same key.
 */
export function createIdempotency(store: ServerStores['idempotency']) {
  // Two requests with one key on this node run one after the other, so the second replays the first.
  const queue = createKeyedQueue();

  return {
    run: (c: Context<AppEnv>, principal: Principal, produce: () => Promise<Produced>) =>
      idempotent(c, store, principal, produce, queue),
  };
}

export type Idempotency = ReturnType<typeof createIdempotency>;

async function idempotent(
  c: Context<AppEnv>,
  store: ServerStores['idempotency'],
  principal: Principal,
  produce: () => Promise<Produced>,
  queue: KeyedQueue,
): Promise<Response> {
  const key = c.req.header('idempotency-key');
  if (key === undefined) {
    const out = await produce();
    return jsonAnswer(c, out.body, out.status);
  }
  if (!KEY.test(key)) {
    throw new HitlError('invalid_request', 'Idempotency-Key must be 1 to 255 visible ASCII characters', {
      fields: ['Idempotency-Key'],
    });
  }
  const text = await c.req.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Validated before we get here; raw text is as good a fingerprint.
  }
  const url = new URL(c.req.url);
  const query = [...url.searchParams.entries()].sort();
  const hash = createHash('sha256')
    .update(canonical({ method: c.req.method, path: url.pathname, query, body }))
    .digest('hex');
  // Per service key; a reviewer's keys (decisions) are its own, under `user:<sub>`.
  const keyId = principal.kind === 'service' ? principal.keyId : principal.actor;
  return queue.run(`${keyId}\u0000${key}`, async () => {
    const record = (status: number, response: Record<string, unknown>) => ({
      key_id: keyId,
      key,
      body_hash: hash,
      status,
      response,
      created_at: new Date().toISOString(),
    });
    // Claim the key first (status 0): the (key_id, key) primary key lets exactly one request on any
    // node produce the response; the others replay it, or wait while it is being produced.
    const deadline = Date.now() + CLAIM_WAIT_MS;
    for (;;) {
      if (await store.put(record(0, {}))) break;
      const seen = await store.get(keyId, key);
      if (seen && seen.body_hash !== hash) {
        throw new HitlError(
          'idempotency_conflict',
          'This Idempotency-Key was used with another request body',
        );
      }
      if (seen && seen.status !== 0) {
        c.header('Idempotent-Replayed', 'true');
        return jsonAnswer(c, seen.response, seen.status as Produced['status']);
      }
      if (Date.now() > deadline) {
        throw new HitlError(
          'idempotency_conflict',
          'A request with this Idempotency-Key is still in progress',
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    let out: Produced;
    try {
      out = await produce();
    } catch (err) {
      // Only successes are kept: a failed request may be retried with the same key.
      await store.release(keyId, key).catch(() => {});
      throw err;
    }
    await store.finish(record(out.status, out.body));
    return jsonAnswer(c, out.body, out.status);
  });
}
