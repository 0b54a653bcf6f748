import type { MiddlewareHandler } from 'hono';
import { secureHeaders as honoSecureHeaders } from 'hono/secure-headers';
import type { AppEnv } from './app-env.ts';

/** What Hono's `secureHeaders()` sets with its defaults (a test keeps the two equal). */
export const SECURE_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ['Cross-Origin-Resource-Policy', 'same-origin'],
  ['Cross-Origin-Opener-Policy', 'same-origin'],
  ['Origin-Agent-Cluster', '?1'],
  ['Referrer-Policy', 'no-referrer'],
  ['Strict-Transport-Security', 'max-age=15552000; includeSubDomains'],
  ['X-Content-Type-Options', 'nosniff'],
  ['X-DNS-Prefetch-Control', 'off'],
  ['X-Download-Options', 'noopen'],
  ['X-Frame-Options', 'SAMEORIGIN'],
  ['X-Permitted-Cross-Domain-Policies', 'none'],
  ['X-XSS-Protection', '0'],
];

/**
 * Hono's default secure headers on every answer. Behind a Node socket they are set on the Node
 * response before the route runs: Hono's middleware sets them on `c.res.headers` afterwards, which
 * turns every answer into a web `Headers` object that `@hono/node-server` then copies back, 10–25
 * µs of CPU a request (a `/healthz` costs about 90). Node's `writeHead` adds the route's own headers
 * to these, so a route's value would win over ours: no route sets one of these names. Without a
 * socket (`app.request` in tests) Hono's middleware does it.
 */
export function secureHeaders(): MiddlewareHandler<AppEnv> {
  const viaHono = honoSecureHeaders();
  return (c, next) => {
    const out = c.env?.outgoing;
    if (!out) return viaHono(c, next);
    for (const [name, value] of SECURE_HEADERS) out.setHeader(name, value);
    return next();
  };
}
