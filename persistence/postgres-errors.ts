import { StoreError } from './types.ts';

// Socket-level failures (Node) and postgres.js's own connection codes.
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  // A Unix-domain socket (`?host=/dir`) whose server is not running: no socket file there.
  'ENOENT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
]);

// SQLSTATEs meaning "the server cannot serve us now": admin/crash shutdown, starting up,
// too many connections, login refused, database missing.
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '3D000', '28000', '28P01']);

function codeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  return typeof err.code === 'string' ? err.code : undefined;
}

/** Whether an error means Postgres could not be reached or dropped the connection. */
export function isConnectionError(err: unknown): boolean {
  const code = codeOf(err);
  if (code !== undefined) {
    // Class 08 = connection exception.
    if (CONNECTION_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith('08')) return true;
  }
  // Node reports a refused multi-address connect as an AggregateError of socket errors.
  return err instanceof AggregateError && err.errors.some(isConnectionError);
}

/** The SQLSTATE of a Postgres error, if it is one. */
export function sqlState(err: unknown): string | undefined {
  return codeOf(err);
}

/**
 * Runs one store operation, turning connection failures into `StoreError('unavailable')`.
 * The message names the operation and the code only: driver messages carry host and port.
 */
export async function guard<T>(op: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof StoreError) throw err;
    if (isConnectionError(err)) {
      const code = codeOf(err) ?? codeOf(err instanceof AggregateError ? err.errors[0] : undefined);
      throw new StoreError(
        'unavailable',
        `Postgres unavailable during ${op} (${code ?? 'connection error'})`,
      );
    }
    throw err;
  }
}
