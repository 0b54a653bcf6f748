import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { App, AppEnv } from '../app-env.ts';
import { errorResponse } from '../errors.ts';
import { ANONYMOUS, errors, responses } from '../openapi/route.ts';

/** Swagger UI, served from its npm package (no CDN): the page works offline. */
const SWAGGER_DIR = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
const OWN_DIR = new URL('../docs/', import.meta.url);

const FILES: Record<string, { path: string | URL; type: string }> = {
  'swagger-ui.css': { path: join(SWAGGER_DIR, 'swagger-ui.css'), type: 'text/css; charset=utf-8' },
  'swagger-ui-bundle.js': {
    path: join(SWAGGER_DIR, 'swagger-ui-bundle.js'),
    type: 'text/javascript; charset=utf-8',
  },
  'docs.js': { path: new URL('docs.js', OWN_DIR), type: 'text/javascript; charset=utf-8' },
  'docs.css': { path: new URL('docs.css', OWN_DIR), type: 'text/css; charset=utf-8' },
};

/**
 * The docs page's own policy: everything from this origin only. Swagger UI draws its icons as
 * `data:` SVG images; it sets styles through the DOM, which `style-src 'self'` allows.
 */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const cache = new Map<string, string>();

async function serve(c: Context<AppEnv>, path: string | URL, type: string): Promise<Response> {
  const key = String(path);
  let body = cache.get(key);
  if (body === undefined) {
    body = await readFile(path, 'utf8');
    cache.set(key, body);
  }
  return c.body(body, 200, {
    'Content-Type': type,
    'Cache-Control': 'no-cache',
    'Content-Security-Policy': DOCS_CSP,
  });
}

/** `GET /docs` (the API reference) and its assets: anonymous, like `/openapi.json`. */
export function docsRoutes(app: App): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/docs',
      tags: ['operations'],
      summary: 'The API reference: Swagger UI over /openapi.json (an HTML page, works offline)',
      security: ANONYMOUS,
      responses: responses({ 200: null }),
    }),
    (c) => serve(c, new URL('index.html', OWN_DIR), 'text/html; charset=utf-8'),
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/docs/{file}',
      tags: ['operations'],
      summary: 'A static asset of the API reference page',
      security: ANONYMOUS,
      responses: responses({ 200: null, ...errors(404) }),
    }),
    (c) => {
      const name = c.req.param('file');
      const entry = Object.hasOwn(FILES, name) ? FILES[name] : undefined;
      if (!entry) return errorResponse(c, 'not_found', `No docs file ${name}`);
      return serve(c, entry.path, entry.type);
    },
  );
}
