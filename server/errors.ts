import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from 'zod';
import { HitlError, type HitlErrorCode } from '../actors/errors.ts';
import type { ErrorResponse } from './response-schemas.ts';

/** Every runtime error code → its HTTP status (SPEC §3); one table, checked by the compiler. */
export const STATUS_OF = {
  unauthorized: 401,
  payload_too_large: 413,
  invalid_json: 400,
  invalid_request: 422,
  run_not_found: 404,
  approval_not_found: 404,
  forbidden: 403,
  run_terminal: 409,
  approval_not_pending: 409,
  invalid_transition: 409,
  invalid_action: 422,
  invalid_edits: 422,
  unsupported_provider: 400,
  provider_not_configured: 400,
  idempotency_conflict: 409,
  not_found: 404,
  rate_limited: 429,
  unavailable: 503,
  conflict: 409,
} as const satisfies Record<HitlErrorCode, ContentfulStatusCode>;

/** The error body of SPEC §3; `detail` is kept for clients of the original FastAPI service. */
export function errorBody(code: string, message: string, details?: unknown) {
  return { error: { code, message, ...(details === undefined ? {} : { details }) }, detail: message };
}

/**
 * Input named in an error message (an id, a path) as at most `max` characters: an error never
 * echoes kilobytes of what the caller sent (a 10 kB "id" would otherwise come back twice).
 */
export function shownInput(input: string, max = 80): string {
  return input.length <= max ? input : `${input.slice(0, max)}… (${input.length} characters)`;
}

/** A JSON error response for a runtime error code. */
export function errorResponse(c: Context, code: HitlErrorCode, message: string, details?: unknown): Response {
  // Nothing was accepted and it is worth trying again shortly (database back, commit queue drained).
  if (code === 'unavailable') c.header('Retry-After', '1');
  return c.json(errorBody(code, message, details), STATUS_OF[code]);
}

/** A zod failure as `422 invalid_request`, naming each failing field (`where` prefixes the path). */
export function invalidRequest(error: z.ZodError, where = ''): HitlError {
  const issues = error.issues.map((i) => ({
    field: [where, ...i.path.map(String)].filter(Boolean).join('.') || '(body)',
    message: i.message,
    code: i.code,
  }));
  const fields = [...new Set(issues.map((i) => i.field))];
  return new HitlError('invalid_request', `Invalid request: ${fields.join(', ')}`, { fields, issues });
}

/** `{ code, message, details? }`: an error as it travels, in HTTP bodies and WebSocket frames. */
export type WireError = z.infer<typeof ErrorResponse>['error'];

/** The wire error of anything the runtime or a schema throws on purpose; `null` for a bug. */
export function knownError(err: unknown): (WireError & { code: HitlErrorCode }) | null {
  if (err instanceof HitlError) {
    return {
      code: err.code,
      message: err.message,
      ...(err.details !== undefined ? { details: err.details } : {}),
    };
  }
  if (err instanceof z.ZodError) return knownError(invalidRequest(err));
  return null;
}

/** Map anything thrown by a route to the wire error; unknown errors become 500 and are logged. */
export function toErrorResponse(
  c: Context,
  err: unknown,
  log: { error(obj: object, msg?: string): void },
): Response {
  const known = knownError(err);
  if (known) return errorResponse(c, known.code, known.message, known.details);
  log.error({ err: err instanceof Error ? err.message : String(err), path: c.req.path }, 'unhandled error');
  return c.json(errorBody('internal_error', 'Internal server error'), 500);
}
