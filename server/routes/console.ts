import { readFile } from 'node:fs/promises';
import type { Context } from 'hono';
import type { Api } from '../api.ts';
import type { AppEnv } from '../env.ts';
import { errorResponse } from '../errors.ts';
import { ErrorResponse } from '../schemas.ts';

/** The reviewer console's files: the page and its assets, served as they are on disk (no build step). */
const DIR = new URL('../console/', import.meta.url);
const PAGE = { file: 'index.html', type: 'text/html; charset=utf-8' };
const JS = 'text/javascript; charset=utf-8';
const ASSETS: Record<string, { file: string; type: string }> = {
  'console.css': { file: 'console.css', type: 'text/css; charset=utf-8' },
  'console.js': { file: 'console.js', type: JS },
  'context.js': { file: 'context.js', type: JS },
  'decide.js': { file: 'decide.js', type: JS },
  'dom.js': { file: 'dom.js', type: JS },
  'media.js': { file: 'media.js', type: JS },
  'socket.js': { file: 'socket.js', type: JS },
};

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

async function serveFile(c: Context<AppEnv>, entry: { file: string; type: string }): Promise<Response> {
  const body = await readFile(new URL(entry.file, DIR), 'utf8');
  return c.body(body, 200, {
    'Content-Type': entry.type,
    'Cache-Control': 'no-cache',
    'Content-Security-Policy': CONSOLE_CSP,
  });
}

/** `GET /console` and its assets: anonymous (SPEC §7); the page asks for a token and keeps it in the tab. */
export function consoleRoutes(api: Api): void {
  api.add(
    {
      method: 'get',
      path: '/console',
      tag: 'console',
      summary: 'The reviewer web console (an HTML page; sign in there with a token)',
      auth: 'none',
      responses: { 200: null },
    },
    (c) => serveFile(c, PAGE),
  );

  api.add(
    {
      method: 'get',
      path: '/console/{file}',
      tag: 'console',
      summary: 'A static asset of the web console (its CSS and ES modules)',
      auth: 'none',
      responses: { 200: null, 404: ErrorResponse },
    },
    (c) => {
      const name = c.req.param('file') ?? '';
      const entry = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
      if (!entry) return errorResponse(c, 'not_found', `No console file ${name}`);
      return serveFile(c, entry);
    },
  );
}
