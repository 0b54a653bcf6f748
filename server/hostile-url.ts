import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './app-env.ts';
import { errorResponse } from './errors.ts';
import { hasBadChar } from './hostile-json.ts';

// Printable ASCII without `%`: decodes to itself (`+` to a space), so holds neither NUL nor a surrogate.
const PLAIN = /^[\x20-\x24\x26-\x7e]*$/;

/**
 * SPEC §7: a path or query parameter holding a NUL character or a lone surrogate never reaches a
 * store (Postgres refuses them: a 500). A path that does not decode is no route (`404 not_found`),
 * such an id is not found; a query parameter is `422 invalid_request` naming it.
 */
export function refuseHostileUrl(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    // Nearly every request: nothing to look for, and no URL to parse.
    if (PLAIN.test(c.req.url)) return next();
    const url = new URL(c.req.url);
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      path = '\u0000';
    }
    if (hasBadChar(path)) return errorResponse(c, 'not_found', 'No such resource');
    for (const [key, value] of url.searchParams) {
      if (hasBadChar(key) || hasBadChar(value)) {
        const field = hasBadChar(key) ? 'query' : `query.${key}`;
        return errorResponse(
          c,
          'invalid_request',
          `Invalid request: ${field} holds a NUL character or a lone surrogate`,
          {
            fields: [field],
          },
        );
      }
    }
    return next();
  };
}
