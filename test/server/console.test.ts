import { describe, expect, it } from 'vitest';
import { JWT_SECRET, OTHER_KEY, SERVICE_KEY, type TestApp, WEBHOOK_SECRET, withTestApp } from './support.ts';

let t: TestApp;
withTestApp((app) => {
  t = app;
});

const JS = 'text/javascript; charset=utf-8';
/** The console's own files. */
const ASSETS: Record<string, string> = {
  ...Object.fromEntries(
    [
      'console',
      'context',
      'decide',
      'detail',
      'diff',
      'dom',
      'fields',
      'history',
      'http',
      'inbox',
      'keys',
      'media',
      'schema-form',
      'form-store',
      'form-view',
      'socket',
      'statechart',
      'store',
      'view',
    ].map((f) => [`/console/${f}.js`, JS]),
  ),
  '/console/console.css': 'text/css; charset=utf-8',
  '/console/views.css': 'text/css; charset=utf-8',
  '/console/form.css': 'text/css; charset=utf-8',
};

async function get(path: string, token: string | null = null) {
  return t.app.request(path, token ? { headers: { authorization: `Bearer ${token}` } } : {});
}

describe('the web console over HTTP', () => {
  it('serves the page anonymously as HTML, uncached, under a CSP that allows only this origin', async () => {
    const res = await get('/console');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toMatch(/connect-src 'self'(;|$)/);
    expect(csp).toContain("form-action 'none'");
    // secureHeaders still applies on top.
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await res.text();
    expect(html).toContain('<script type="module" src="/console/console.js"></script>');
    expect(html).toContain('<label for="token">');
  });

  it('serves each asset anonymously with its content type', async () => {
    for (const [path, type] of Object.entries(ASSETS)) {
      const res = await get(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type'), path).toBe(type);
      expect(res.headers.get('cache-control'), path).toBe('no-cache');
      expect((await res.text()).length, path).toBeGreaterThan(100);
    }
  });

  it('serves @xstate/store from node_modules and the run machine outline, nothing else of the package', async () => {
    const store = await get('/console/xstate-store.js');
    expect(store.status).toBe(200);
    expect(store.headers.get('content-type')).toBe(JS);
    const source = await store.text();
    expect(source).toContain('createStore');
    // Its own imports resolve to files served next to it.
    for (const m of source.matchAll(/from '\.\/([\w-]+\.js)'/g)) {
      expect((await get(`/console/${m[1]}`)).status, m[1]).toBe(200);
    }
    expect((await get('/console/xstate-store.d.ts')).status).toBe(404);
    const machine = await get('/console/run-machine.json');
    expect(machine.status).toBe(200);
    const outline = (await machine.json()) as { key: string; states: Array<{ key: string }> };
    expect(outline.key).toBe('run');
    expect(outline.states.map((s) => s.key)).toContain('payload_review');
  });

  it('answers 404 for any other file under /console, and is no wider an opening than that', async () => {
    for (const path of ['/console/index.html', '/console/secret.txt', '/console/console.js.map']) {
      const res = await get(path);
      expect(res.status, path).toBe(404);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
    }
    expect((await get('/console/%2e%2e%2fapp.ts')).status).toBe(401);
    expect((await get('/consoles')).status).toBe(401);
    expect((await get('/console/a/b')).status).toBe(401);
    expect((await get('/hitl/providers')).status).toBe(401);
  });

  it('is documented in /openapi.json as anonymous', async () => {
    const doc = (await t.call('GET', '/openapi.json')).json as {
      paths: Record<string, { get?: { security: unknown[] } }>;
    };
    expect(doc.paths['/console']?.get?.security).toEqual([]);
    expect(doc.paths['/console/{file}']?.get?.security).toEqual([]);
  });

  it('holds no secrets, no inline code or styles, no HTML injection and nothing from elsewhere', async () => {
    const html = await (await get('/console')).text();
    const files = [html, ...(await Promise.all(Object.keys(ASSETS).map(async (p) => (await get(p)).text())))];
    for (const text of files) {
      for (const secret of [SERVICE_KEY, OTHER_KEY, JWT_SECRET, WEBHOOK_SECRET])
        expect(text).not.toContain(secret);
      expect(text).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
      expect(text).not.toMatch(/console\.(log|info|debug)/);
    }
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/\sstyle=|<style|\son[a-z]+=/i);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
  });
});
