import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** From this many UTF-16 units an answer's JSON is sent as its UTF-8 bytes. */
const AS_BYTES_FROM = 64 * 1024;

/**
 * `c.json(value)`, for answers that may be large (a run's view, an approval or events holding a
 * large input). The Node adapter measures a string body's UTF-8 length and then encodes it again
 * to write it: two passes over megabytes. A large answer is encoded once here and sent as bytes.
 */
export function jsonAnswer(c: Context, value: unknown, status: ContentfulStatusCode = 200): Response {
  const text = JSON.stringify(value);
  return c.body(text.length < AS_BYTES_FROM ? text : Buffer.from(text), status, {
    'Content-Type': 'application/json',
  });
}
