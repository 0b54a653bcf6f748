import { StoreError } from '../persistence/types.ts';

/** Every code the runtime can throw; `server/` maps each to an HTTP status in one table. */
export type HitlErrorCode =
  | 'unauthorized'
  | 'payload_too_large'
  | 'invalid_json'
  | 'invalid_request'
  | 'run_not_found'
  | 'approval_not_found'
  | 'forbidden'
  | 'run_terminal'
  | 'approval_not_pending'
  | 'invalid_transition'
  | 'invalid_action'
  | 'invalid_edits'
  | 'unsupported_provider'
  | 'provider_not_configured'
  | 'idempotency_conflict'
  | 'not_found'
  | 'rate_limited'
  | 'unavailable'
  | 'conflict';

/** The one error type of `actors/` (STYLE rule 8). Messages never contain secrets. */
export class HitlError extends Error {
  override readonly name = 'HitlError';
  constructor(
    readonly code: HitlErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/**
 * No `StoreError` leaves `actors/`: every store failure becomes a `HitlError` here, with the
 * wire codes the contract gives them (a database outage is `unavailable`, a foreign list cursor
 * `invalid_request`). Anything else is returned unchanged.
 */
export function fromStoreError(err: unknown): unknown {
  if (!(err instanceof StoreError)) return err;
  switch (err.code) {
    case 'unavailable':
      return new HitlError('unavailable', 'The database is unavailable; nothing was accepted');
    case 'invalid_cursor':
      return new HitlError('invalid_request', 'Invalid cursor', { fields: ['cursor'] });
    case 'not_found':
      return new HitlError('not_found', 'Not found');
    default:
      return new HitlError('conflict', 'Changed concurrently; try again');
  }
}

/** A store call whose failures leave as `HitlError`s, except the codes the caller handles. */
export async function storeCall<T>(
  fn: () => Promise<T>,
  handled: readonly StoreError['code'][] = [],
): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof StoreError && handled.includes(err.code)) throw err;
    throw fromStoreError(err);
  }
}

const REFUSALS = new Set<HitlErrorCode>([
  'run_terminal',
  'approval_not_pending',
  'invalid_transition',
  'invalid_action',
  'invalid_edits',
]);

/** True for the typed errors a machine refusal produces (stale timers and late results are expected). */
export function isRefusal(err: unknown): boolean {
  return err instanceof HitlError && REFUSALS.has(err.code);
}
