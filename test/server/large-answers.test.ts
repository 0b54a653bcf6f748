import { describe, expect, it } from 'vitest';
import { createEchoRun, listen, SERVICE_KEY, type TestApp, withTestApp } from './support.ts';

let t: TestApp;
withTestApp((app) => {
  t = app;
});

describe('large answers', () => {
  it('come over a Node socket as exact UTF-8 JSON with a true Content-Length, small ones too', async () => {
    // Non-ASCII throughout: the byte length differs from the string's length.
    const prompt = `${'é'.repeat(40_000)}\u{1F600}${'x'.repeat(60_000)}`;
    const runId = await createEchoRun(t, { policy: 'auto' }, { prompt });
    const server = await listen(t.app);
    try {
      const get = async (path: string) => {
        const res = await fetch(`${server.url}${path}`, {
          headers: { authorization: `Bearer ${SERVICE_KEY}` },
        });
        const bytes = Buffer.from(await res.arrayBuffer());
        expect(res.status, path).toBe(200);
        expect(res.headers.get('content-type'), path).toMatch(/^application\/json/);
        expect(Number(res.headers.get('content-length')), path).toBe(bytes.length);
        return { bytes, json: JSON.parse(bytes.toString('utf8')) as Record<string, unknown> };
      };
      const view = await get(`/hitl/runs/${runId}?wait_for=terminal&timeout=10`);
      expect(view.bytes.length).toBeGreaterThan(64 * 1024);
      expect(view.json.status).toBe('completed');
      expect(JSON.stringify(view.json)).toContain(prompt);
      const events = await get(`/hitl/runs/${runId}/events`);
      expect(JSON.stringify(events.json)).toContain(prompt);
      const small = await get(`/hitl/run/${runId}/status`);
      expect(small.bytes.length).toBeLessThan(64 * 1024);
      expect(small.json.run_id).toBe(runId);
    } finally {
      await server.close();
    }
  });
});
