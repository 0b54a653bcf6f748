import type { Context, MiddlewareHandler } from 'hono';
import { HitlError } from '../../actors/errors.ts';
import type { AppEnv } from '../app-env.ts';
import { type Auth, bearer, type Principal } from './auth.ts';
import type { FailureLimiter } from './rate-limit.ts';

/** The client's address (`X-Forwarded-For` only with `HITL_TRUST_PROXY`, see the limiter). */
export function clientAddress(c: Context<AppEnv>, limiter: FailureLimiter): string {
  return limiter.addressOf(c.env?.incoming?.socket?.remoteAddress, c.req.header('x-forwarded-for'));
}

/** Refuse an address that failed too often (429, with `Retry-After`). */
export function assertNotBlocked(c: Context<AppEnv>, limiter: FailureLimiter): void {
  const wait = limiter.blockedFor(clientAddress(c, limiter));
  if (wait > 0) {
    c.header('Retry-After', String(wait));
    throw new HitlError('rate_limited', 'Too many failed authentications; try again later');
  }
}

/** The console's and the API reference's pages and static files: anonymous (they hold no secret). */
const CONSOLE_FILES = /^\/(?:console|docs)(?:\/[A-Za-z0-9][A-Za-z0-9._-]*)?$/;

/**
 * Authenticates every request except anonymous paths (SPEC §7). `?token=` is accepted only for
 * event streams, because a browser's EventSource cannot send an Authorization header.
 */
export function authenticate(deps: {
  auth: Auth;
  limiter: FailureLimiter;
  anonymous: (path: string) => boolean;
}): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (deps.anonymous(c.req.path) || CONSOLE_FILES.test(c.req.path)) return next();
    assertNotBlocked(c, deps.limiter);
    const header = c.req.header('authorization');
    const streaming = c.req.method === 'GET' && (c.req.header('accept') ?? '').includes('text/event-stream');
    const token = bearer(header) ?? (streaming ? (c.req.query('token') ?? null) : null);
    const principal = await deps.auth.authenticate(token);
    if (!principal) {
      deps.limiter.fail(clientAddress(c, deps.limiter));
      c.header('WWW-Authenticate', 'Bearer');
      throw new HitlError('unauthorized', token ? 'Invalid credentials' : 'Missing bearer token');
    }
    c.set('principal', principal);
    return next();
  };
}

/** Services only (create runs, pause/resume/cancel, cancel approvals): reviewers get 403. */
export function requireService(p: Principal, what: string): void {
  if (p.kind !== 'service') throw new HitlError('forbidden', `Reviewers may not ${what}`);
}

/** A reviewer's `approved_by` must be its own `sub` (or absent); a service's is kept as `on_behalf_of`. */
export function decisionActor(
  p: Principal,
  approvedBy: string | null | undefined,
): { actor: string; on_behalf_of?: string } {
  if (p.kind === 'reviewer') {
    if (approvedBy && approvedBy !== p.sub) {
      throw new HitlError('forbidden', 'approved_by must be your own user id');
    }
    return { actor: p.actor };
  }
  return approvedBy ? { actor: p.actor, on_behalf_of: approvedBy } : { actor: p.actor };
}
