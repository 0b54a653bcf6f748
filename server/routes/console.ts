import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { runMachine } from '../../machines/run-machine.ts';
import type { App, AppEnv } from '../app-env.ts';
import { errorResponse } from '../errors.ts';
import { ANONYMOUS, errors, responses } from '../openapi/route.ts';

/** The reviewer console's files: the page and its assets, served as they are on disk (no build step). */
const DIR = new URL('../console/', import.meta.url);
const PAGE = { file: 'index.html', type: 'text/html; charset=utf-8' };
const JS = 'text/javascript; charset=utf-8';
/** `@xstate/store`'s browser build (its ES modules import each other by relative name). */
const STORE_DIR = dirname(createRequire(import.meta.url).resolve('@xstate/store'));
type Asset = { file: string | URL; type: string };
const ASSETS: Record<string, Asset> = {
  'console.css': { file: 'console.css', type: 'text/css; charset=utf-8' },
  'views.css': { file: 'views.css', type: 'text/css; charset=utf-8' },
  'form.css': { file: 'form.css', type: 'text/css; charset=utf-8' },
  ...Object.fromEntries(
    readdirSync(DIR)
      .filter((f) => f.endsWith('.js'))
      .map((f) => [f, { file: f, type: JS }]),
  ),
  ...Object.fromEntries(
    readdirSync(STORE_DIR)
      .filter((f) => /^(xstate-store|store-[0-9a-f]+|validationError-[0-9a-f]+)\.js$/.test(f))
      .map((f) => [f, { file: new URL(`file://${join(STORE_DIR, f)}`), type: JS }]),
  ),
};

/** A state of the run machine: its key and children, nothing else (what the statechart draws). */
type Outline = { key: string; states: Outline[] };
function outline(key: string, node: { states?: Record<string, unknown> }): Outline {
  const states = Object.entries(node.states ?? {}).map(([k, child]) =>
    outline(k, child as { states?: Record<string, unknown> }),
  );
  return { key, states };
}
/** The run machine's states, from its definition: the console draws the statechart from it. */
const MACHINE = JSON.stringify(outline('run', runMachine.config as { states?: Record<string, unknown> }));

/**
 * The console runs no inline code and talks only to this origin (CSP 3: `'self'` also admits the
 * same-origin ws:/wss: of its WebSocket, and no other host); media of
 * model outputs are the one thing loaded from elsewhere (Replicate's https URLs).
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' https: data:",
  'media-src https: data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

async function serveFile(c: Context<AppEnv>, entry: Asset): Promise<Response> {
  const body =
    typeof entry.file === 'string' && entry.file === 'run-machine.json'
      ? MACHINE
      : await readFile(typeof entry.file === 'string' ? new URL(entry.file, DIR) : entry.file, 'utf8');
  return c.body(body, 200, {
    'Content-Type': entry.type,
    'Cache-Control': 'no-cache',
    'Content-Security-Policy': CONSOLE_CSP,
  });
}

/** `GET /console` and its assets: anonymous (SPEC §7); the page asks for a token and keeps it in the tab. */
export function consoleRoutes(app: App): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/console',
      tags: ['console'],
      summary: 'The reviewer web console (an HTML page; sign in there with a token)',
      security: ANONYMOUS,
      responses: responses({ 200: null }),
    }),
    (c) => serveFile(c, PAGE),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/console/{file}',
      tags: ['console'],
      summary:
        'A static asset of the web console (its CSS, ES modules, @xstate/store, the run machine outline)',
      security: ANONYMOUS,
      responses: responses({ 200: null, ...errors(404) }),
    }),
    (c) => {
      const name = c.req.param('file');
      if (name === 'run-machine.json') {
        return serveFile(c, { file: name, type: 'application/json; charset=utf-8' });
      }
      const entry = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
      if (!entry) return errorResponse(c, 'not_found', `No console file ${name}`);
      return serveFile(c, entry);
    },
  );
}
