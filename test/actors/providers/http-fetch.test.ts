import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHttpFetch } from '../../../actors/providers/http-fetch.ts';
import { createReplicateProvider } from '../../../actors/providers/replicate.ts';
import { caps, rejectionOf } from './fixtures.ts';

let server: Server;
let base: string;
const routes: Record<string, (req: IncomingMessage, res: ServerResponse, body: string) => void> = {
  '/echo': (req, res, body) => {
    res.writeHead(201, 'Made', { 'content-type': 'application/json', 'x-many': ['a', 'b'] });
    res.end(JSON.stringify({ method: req.method, body, auth: req.headers.authorization ?? null }));
  },
  '/bom': (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"é":"ü"}')]));
  },
  '/empty': (_req, res) => {
    res.writeHead(204);
    res.end();
  },
  '/moved': (_req, res) => {
    res.writeHead(302, { location: '/echo' });
    res.end();
  },
  '/cut': (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
    res.write('{"id":');
    setTimeout(() => res.socket?.destroy(), 20);
  },
  '/silent': () => {},
};

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => routes[new URL(req.url ?? '/', 'http://x').pathname]?.(req, res, body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('the provider fetch over node:http', () => {
  const httpFetch = createHttpFetch();

  it('answers what the global fetch answers: status, status text, headers and body', async () => {
    const init = { method: 'POST', headers: { authorization: 'Bearer t' }, body: '{"a":1}' };
    const mine = await httpFetch(new URL(`${base}/echo`), init);
    const theirs = await fetch(new URL(`${base}/echo`), init);
    expect([mine.status, mine.statusText, mine.ok]).toEqual([theirs.status, theirs.statusText, theirs.ok]);
    expect(mine.headers.get('x-many')).toBe(theirs.headers.get('x-many'));
    expect(await mine.json()).toEqual(await theirs.json());
  });

  it('reads a body as the global fetch does: once, as text, JSON, bytes, a stream or a clone', async () => {
    const both = async (read: (r: Response) => Promise<unknown>) => {
      const [mine, theirs] = [await httpFetch(`${base}/bom`), await fetch(`${base}/bom`)];
      const settle = (p: Promise<unknown>) =>
        p.then(
          (v) => ({ v }),
          (e: unknown) => ({ e: (e as Error).name }),
        );
      return [await settle(read(mine)), await settle(read(theirs))];
    };
    const bytes = async (s: ReadableStream<Uint8Array> | null) =>
      Buffer.from(await new Response(s).arrayBuffer()).toString('hex');
    const readers: ((r: Response) => Promise<unknown>)[] = [
      (r) => r.json(),
      (r) => r.text(),
      async (r) => Buffer.from(await r.arrayBuffer()).toString('hex'),
      (r) => bytes(r.body),
      async (r) => [r.bodyUsed, await r.text(), r.bodyUsed],
      async (r) => [await r.text(), await r.text()],
      async (r) => [await bytes(r.body), await r.text()],
      async (r) => [await r.clone().json(), await r.json()],
      async (r) => [await r.json(), r.clone()],
      async (r) => {
        const first = r.body;
        return [first === r.body, await bytes(first)];
      },
    ];
    for (const read of readers) {
      const [mine, theirs] = await both(read);
      expect(mine).toEqual(theirs);
    }
    expect(await both((r) => r.json())).toEqual([{ v: { é: 'ü' } }, { v: { é: 'ü' } }]);
    const noBody = async (r: Response) => [
      r.body,
      await r.text(),
      await r.text(),
      r.bodyUsed,
      await r.clone().text(),
    ];
    expect(await noBody(await httpFetch(`${base}/empty`))).toEqual(
      await noBody(await fetch(`${base}/empty`)),
    );
    expect(await noBody(await httpFetch(`${base}/empty`))).toEqual([null, '', '', false, '']);
  });

  it('answers a 204 with no body, and follows a redirected GET', async () => {
    const empty = await httpFetch(`${base}/empty`);
    expect([empty.status, await empty.text()]).toEqual([204, '']);
    const moved = await httpFetch(`${base}/moved`, { method: 'GET', headers: {} });
    expect(moved.status).toBe(201);
    expect(await moved.json()).toMatchObject({ method: 'GET' });
  });

  it('rejects with the signal reason (a TimeoutError) when no answer comes in time', async () => {
    const error = await rejectionOf(httpFetch(`${base}/silent`, { signal: AbortSignal.timeout(50) }));
    expect((error as Error).name).toBe('TimeoutError');
  });

  it('rejects an answer cut off before its end', async () => {
    const error = await rejectionOf(httpFetch(`${base}/cut`));
    expect(error).toBeInstanceOf(Error);
  });

  it('leaves a refused connection as ECONNREFUSED, which the provider reports as connection_refused', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    expect(await rejectionOf(httpFetch(`http://127.0.0.1:${port}/`))).toMatchObject({ code: 'ECONNREFUSED' });
    const p = createReplicateProvider({ token: 'r8_t', baseUrl: `http://127.0.0.1:${port}/v1` });
    expect(await rejectionOf(p.submit(caps(null), { prompt: 'x' }))).toMatchObject({
      kind: 'connection_refused',
    });
  });
});

/**
 * A kept-alive socket that the server closes as idle while a request is being written to it breaks
 * that request off (ECONNRESET), and a prediction's create that breaks off has an unknown outcome:
 * the run goes to `error_recovery`. So an idle socket is never reused near the server's close.
 */
describe('the provider fetch and idle kept-alive connections', () => {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
  });

  async function serverCountingConnections(keepAliveMs: number, answerAfterMs = 0) {
    let connections = 0;
    const s = createServer((req, res) => {
      req.resume();
      req.on('end', () => setTimeout(() => res.end('{"ok":true}'), answerAfterMs));
    });
    s.keepAliveTimeout = keepAliveMs;
    s.on('connection', () => {
      connections += 1;
    });
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    servers.push(s);
    const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}/`;
    return { url, connections: () => connections };
  }

  const post = async (f: ReturnType<typeof createHttpFetch>, url: string) =>
    (await f(url, { method: 'POST', headers: {}, body: '{}' })).json();

  it("closes an idle socket a second before the server's announced Keep-Alive timeout", async () => {
    // The server says `Keep-Alive: timeout=2`: a socket idle for 1.5 s is not used again.
    const server = await serverCountingConnections(2000);
    const f = createHttpFetch();
    await post(f, server.url);
    await post(f, server.url);
    expect(server.connections()).toBe(1);
    await sleep(1500);
    expect(await post(f, server.url)).toEqual({ ok: true });
    expect(server.connections()).toBe(2);
  });

  it('closes a socket idle longer than its own limit when the server announces none, and keeps one that waits for an answer', async () => {
    const server = await serverCountingConnections(0, 400);
    const f = createHttpFetch(globalThis.fetch, { idleMs: 200 });
    // An answer slower than the idle limit still arrives on its socket.
    expect(await post(f, server.url)).toEqual({ ok: true });
    expect(server.connections()).toBe(1);
    await sleep(350);
    expect(await post(f, server.url)).toEqual({ ok: true });
    expect(server.connections()).toBe(2);
  });
});
