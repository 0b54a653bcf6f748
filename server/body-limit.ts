import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv } from './app-env.ts';

/** Over-limit bytes read and dropped before answering 413 (beyond: answered, then closed). */
export const DEFAULT_DRAIN_BYTES = 16 * 1024 * 1024;

/**
 * The request body cap (SPEC §3, §7). Unlike answering as soon as the limit is seen, the rest of
 * an over-limit body is read and dropped (up to `drainBytes`) before the 413 goes out, so a client
 * still sending — `fetch` on a reused keep-alive connection — receives its 413, not a reset.
 * A body within the limit is buffered and handed on, as `hono/body-limit` does.
 */
export function limitBody(opts: {
  maxBytes: number;
  drainBytes?: number;
  onTooLarge: (c: Context<AppEnv>) => Response;
}): MiddlewareHandler<AppEnv> {
  const drainBytes = Math.max(opts.drainBytes ?? DEFAULT_DRAIN_BYTES, opts.maxBytes);
  return async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    const declared = Number(c.req.header('content-length') ?? Number.NaN);
    // A declared length within the cap is enforced by Node's HTTP parser (the body cannot be
    // longer, nor chunked as well): the handler reads it straight from the socket, without the
    // web Request and stream this middleware would otherwise build (a large part of a request's
    // CPU). Only an undeclared (chunked) or over-limit body is counted here.
    if (c.env?.incoming && Number.isSafeInteger(declared) && declared >= 0 && declared <= opts.maxBytes)
      return next();
    const body = c.req.raw.body;
    if (!body) return next();
    if (declared > drainBytes) {
      // Too big to drain: answer and close; this client may see its connection reset.
      c.header('Connection', 'close');
      await body.cancel().catch(() => undefined);
      return opts.onTooLarge(c);
    }
    const reader = body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size <= opts.maxBytes) chunks.push(value);
      else if (size > drainBytes) {
        c.header('Connection', 'close');
        await reader.cancel().catch(() => undefined);
        return opts.onTooLarge(c);
      }
    }
    if (size > opts.maxBytes) return opts.onTooLarge(c);
    c.req.raw = new Request(c.req.raw, { body: Buffer.concat(chunks) });
    return next();
  };
}
