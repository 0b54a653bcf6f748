import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { FetchLike } from './replicate-http.ts';

/** Statuses whose Response may carry no body. */
const NO_BODY = new Set([101, 204, 205, 304]);

/**
 * A whole answer already read, as a `Response` for the client that asked: the global `Response`
 * costs about 50 µs to make and read (a web stream for the body, a `Headers` object), a third of a
 * provider request's CPU in the service. Headers and a stream are made only when asked for; the
 * body reads as the global one's does (once; UTF-8 without a byte-order mark).
 */
class BufferedResponse {
  readonly ok: boolean;
  readonly redirected = false;
  readonly type = 'basic';
  private used = false;
  private headerObj: Headers | null = null;
  private stream: ReadableStream<Uint8Array> | null | undefined;
  constructor(
    readonly status: number,
    readonly statusText: string,
    private readonly raw: string[],
    private readonly buf: Buffer | null,
    readonly url: string,
  ) {
    this.ok = status >= 200 && status < 300;
  }
  get headers(): Headers {
    if (!this.headerObj) {
      const h = new Headers();
      for (let i = 0; i + 1 < this.raw.length; i += 2)
        h.append(this.raw[i] as string, this.raw[i + 1] as string);
      this.headerObj = h;
    }
    return this.headerObj;
  }
  get bodyUsed(): boolean {
    return this.used;
  }
  get body(): ReadableStream<Uint8Array> | null {
    if (this.stream === undefined) {
      this.stream = this.buf === null || this.used ? null : new Response(new Uint8Array(this.buf)).body;
      this.used = this.stream !== null;
    }
    return this.stream;
  }
  private take(): Buffer {
    // No body (a 204): nothing to use up, as with the global Response.
    if (this.buf === null) return Buffer.alloc(0);
    if (this.used) throw new TypeError('Body is unusable: Body has already been read');
    this.used = true;
    return this.buf;
  }
  async text(): Promise<string> {
    const b = this.take();
    return (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? b.subarray(3) : b).toString('utf8');
  }
  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }
  async arrayBuffer(): Promise<ArrayBuffer> {
    return new Uint8Array(this.take()).buffer;
  }
  clone(): Response {
    if (this.used && this.buf !== null)
      throw new TypeError('Response.clone: Body has already been consumed.');
    return new BufferedResponse(
      this.status,
      this.statusText,
      this.raw,
      this.buf,
      this.url,
    ) as unknown as Response;
  }
}

/**
 * How long a kept-alive socket may sit idle before we close it (sooner when the server announces
 * a shorter `Keep-Alive: timeout`). A server closes idle connections on its own clock; a request
 * written to a socket it is closing breaks off with ECONNRESET, and for a prediction's create that
 * means an unknown outcome (`error_recovery`), never a resend. Node 20's agent honours the
 * server's hint (closing a second before it) only when it has a timeout of its own, so it gets one.
 */
const IDLE_SOCKET_MS = 4_000;

/**
 * The provider's `fetch` over `node:http(s)` with keep-alive agents: about half the CPU of the
 * global (undici) `fetch` per request, which was the largest single item of a run's profile.
 * It covers what the Replicate client sends (a URL, a plain header object, a string body) and
 * reads the whole answer before resolving (Replicate's answers are small JSON). Anything else (a
 * `Request`, a form body), and a redirected GET, goes to `fallback` (the global `fetch`), which
 * follows redirects; a redirected POST is answered as it is, never sent again. Idle kept-alive
 * sockets do not hold the process open (Node unrefs them).
 */
export function createHttpFetch(
  fallback: FetchLike = globalThis.fetch,
  opts: { idleMs?: number } = {},
): FetchLike {
  // `timeout` closes free sockets only: a request that waits longer for its answer keeps its socket
  // (its deadline is the caller's signal).
  const timeout = opts.idleMs ?? IDLE_SOCKET_MS;
  const agents = {
    http: new HttpAgent({ keepAlive: true, timeout }),
    https: new HttpsAgent({ keepAlive: true, timeout }),
  };
  const plain = (init: RequestInit | undefined): init is RequestInit & { headers?: Record<string, string> } =>
    (init?.body === undefined || init.body === null || typeof init.body === 'string') &&
    (init?.headers === undefined ||
      (typeof init.headers === 'object' &&
        !(init.headers instanceof Headers) &&
        !Array.isArray(init.headers)));

  return (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    if (input instanceof Request || !plain(init)) return fallback(input, init);
    const url = typeof input === 'string' ? new URL(input) : input;
    const https = url.protocol === 'https:';
    if (!https && url.protocol !== 'http:') return fallback(input, init);
    const method = (init?.method ?? 'GET').toUpperCase();
    const signal = init?.signal ?? undefined;
    return new Promise<Response>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const send = https ? httpsRequest : httpRequest;
      const req = send(url, { method, headers: init?.headers, agent: https ? agents.https : agents.http });
      // The signal's reason (a `TimeoutError` from `AbortSignal.timeout`) is what fetch rejects with.
      const onAbort = () => {
        reject(signal?.reason);
        req.destroy();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => signal?.removeEventListener('abort', onAbort);
      req.on('error', (err) => {
        done();
        reject(err);
      });
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && res.headers.location && method === 'GET') {
          res.resume();
          done();
          resolve(fallback(input, init));
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (err) => {
          done();
          reject(err);
        });
        // A connection closed before the whole answer came: the exchange broke off.
        res.on('close', () => {
          done();
          if (!res.complete)
            reject(Object.assign(new Error('The answer was cut off'), { code: 'ECONNRESET' }));
        });
        res.on('end', () => {
          done();
          try {
            resolve(
              new BufferedResponse(
                status,
                res.statusMessage ?? '',
                res.rawHeaders,
                NO_BODY.has(status) ? null : Buffer.concat(chunks),
                url.href,
              ) as unknown as Response,
            );
          } catch (err) {
            reject(err);
          }
        });
      });
      req.end(init?.body ?? undefined);
    });
  };
}
