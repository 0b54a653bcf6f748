import { describe, expect, it } from 'vitest';
import { codeOf, echoInput, listen, SERVICE_KEY, type TestApp, withTestApp } from '../server/support.ts';

/** SPEC §7: an over-limit body always receives its 413, also on a reused keep-alive connection. */

let t: TestApp;
withTestApp((app) => {
  t = app;
});

describe('the body limit', () => {
  it('answers 413 to 2 MiB bodies sent by fetch on one kept-alive connection, and then serves the next request', async () => {
    const server = await listen(t.app);
    try {
      const headers = { authorization: `Bearer ${SERVICE_KEY}`, 'content-type': 'application/json' };
      const ok = await fetch(`${server.url}/hitl/runs?limit=1`, { headers });
      expect(ok.status).toBe(200);
      await ok.text();
      const big = JSON.stringify({ run_input: echoInput({ padding: 'x'.repeat(2 * 1024 * 1024) }) });
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${server.url}/hitl/run`, { method: 'POST', headers, body: big });
        expect(res.status).toBe(413);
        expect(codeOf((await res.json()) as Record<string, unknown>)).toBe('payload_too_large');
        const next = await fetch(`${server.url}/hitl/runs?limit=1`, { headers });
        expect(next.status).toBe(200);
        await next.text();
      }
      // Chunked (no Content-Length): the limit is found while reading, and the answer still arrives.
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(big));
          controller.close();
        },
      });
      const chunked = await fetch(`${server.url}/hitl/run`, {
        method: 'POST',
        headers,
        body: stream,
        duplex: 'half',
      } as RequestInit);
      expect(chunked.status).toBe(413);
    } finally {
      await server.close();
    }
  });
});
