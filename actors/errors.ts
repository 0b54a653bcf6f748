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
