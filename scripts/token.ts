import { parseArgs } from 'node:util';
import { sign } from 'hono/jwt';
import { MAX_TOKEN_TTL_S } from '../server/auth/auth.ts';

/**
 * `npm run token -- --sub rita --roles reviewer --ttl 8h`: prints a reviewer JWT (HS256, signed
 * with `HITL_JWT_SECRET`) on stdout. The server refuses tokens that live longer than 24 h.
 */

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `90s`, `30m`, `8h`, `1d` (or plain seconds) → seconds; null when unreadable. */
export function parseTtl(value: string): number | null {
  const m = /^(\d+)([smhd]?)$/.exec(value.trim());
  if (!m) return null;
  const seconds = Number(m[1]) * (UNITS[m[2] || 's'] ?? 1);
  return seconds > 0 ? seconds : null;
}

/** The claims and signed token, or why not. */
export async function makeToken(opts: {
  sub?: string | undefined;
  roles?: string | undefined;
  ttl?: string | undefined;
  secret: string | undefined;
  now?: number;
}): Promise<{ token: string } | { problem: string }> {
  if (!opts.secret || opts.secret.length < 16) {
    return { problem: 'HITL_JWT_SECRET must be set (at least 16 characters), as on the server' };
  }
  const sub = opts.sub?.trim();
  if (!sub) return { problem: '--sub is required: the reviewer user id (e.g. --sub rita)' };
  const roles = (opts.roles ?? 'reviewer')
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  const ttl = parseTtl(opts.ttl ?? '8h');
  if (ttl === null) return { problem: `--ttl ${opts.ttl}: expected e.g. 30m, 8h, 1d or seconds` };
  if (ttl > MAX_TOKEN_TTL_S) {
    return { problem: `--ttl ${opts.ttl}: at most 24h (the server refuses tokens that live longer)` };
  }
  const now = Math.floor((opts.now ?? Date.now()) / 1000);
  return { token: await sign({ sub, roles, iat: now, exp: now + ttl }, opts.secret, 'HS256') };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { sub: { type: 'string' }, roles: { type: 'string' }, ttl: { type: 'string' } },
  });
  // A script, not the service: it reads the one variable it signs with.
  const result = await makeToken({ ...values, secret: process.env['HITL_JWT_SECRET'] });
  if ('problem' in result) {
    process.stderr.write(`token: ${result.problem}\n`);
    process.exitCode = 2;
    return;
  }
  process.stdout.write(`${result.token}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
