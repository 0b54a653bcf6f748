import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type Auth, bearer, type Principal } from '../auth/auth.ts';

/** The token of an upgrade request: `Authorization: Bearer …`, else `?token=`. */
export function upgradeToken(req: IncomingMessage, url: URL): string | null {
  return bearer(req.headers.authorization) ?? url.searchParams.get('token');
}

/** The request's URL (path and query), or null when it cannot be parsed. */
export function upgradeUrl(req: IncomingMessage): URL | null {
  try {
    return new URL(req.url ?? '/', 'http://localhost');
  } catch {
    return null;
  }
}

const REASONS: Record<number, [string, string]> = {
  401: ['Unauthorized', 'unauthorized'],
  404: ['Not Found', 'not_found'],
  429: ['Too Many Requests', 'rate_limited'],
  503: ['Service Unavailable', 'unavailable'],
};

/** Answer a refused upgrade with a plain HTTP response (SPEC §3 error body) and drop the socket. */
export function refuseUpgrade(socket: Duplex, status: number, message: string): void {
  const [reason, code] = REASONS[status] ?? ['Bad Request', 'invalid_request'];
  const body = JSON.stringify({ error: { code, message }, detail: message });
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const text =
    `HTTP/1.1 ${status} ${reason}\r\n` +
    'Connection: close\r\n' +
    'Content-Type: application/json\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    (status === 401 ? 'WWW-Authenticate: Bearer\r\n' : '') +
    `\r\n${body}`;
  // Destroy once the answer is flushed (or soon anyway: a peer that never reads must not hold it).
  setTimeout(() => socket.destroy(), 1000).unref();
  socket.end(text, () => socket.destroy());
}

/** Authenticate an upgrade request; null when there is no token or it is not valid. */
export async function authenticateUpgrade(
  auth: Auth,
  req: IncomingMessage,
  url: URL,
): Promise<Principal | null> {
  return auth.authenticate(upgradeToken(req, url));
}
