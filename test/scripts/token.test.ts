import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { sign } from 'hono/jwt';
import { describe, expect, it } from 'vitest';
import { createAuth } from '../../server/auth/auth.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SECRET = 'token-test-secret-0123456789';

/** `npm run token -- …` as a reviewer's admin types it. */
async function token(args: string[], secret = SECRET) {
  const env = { ...process.env, HITL_JWT_SECRET: secret };
  return run('npm', ['run', '-s', 'token', '--', ...args], { cwd: ROOT, env }).then(
    (r) => ({ code: 0, stdout: r.stdout.trim(), stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({
      code: e.code,
      stdout: e.stdout.trim(),
      stderr: e.stderr,
    }),
  );
}

describe('npm run token', () => {
  it('prints a reviewer JWT the server accepts, with the given sub, roles and lifetime', async () => {
    const before = Math.floor(Date.now() / 1000);
    const out = await token(['--sub', 'rita', '--roles', 'reviewer,qa', '--ttl', '8h']);
    expect(out.code).toBe(0);
    const principal = await createAuth({ apiKeys: [], jwtSecret: SECRET }).authenticate(out.stdout);
    expect(principal).toEqual({
      kind: 'reviewer',
      sub: 'rita',
      roles: ['reviewer', 'qa'],
      actor: 'user:rita',
    });
    const claims = JSON.parse(Buffer.from(out.stdout.split('.')[1] ?? '', 'base64url').toString()) as {
      exp: number;
    };
    expect(claims.exp - before).toBeGreaterThanOrEqual(8 * 3600);
    expect(claims.exp - before).toBeLessThanOrEqual(8 * 3600 + 5);
  }, 60_000);

  it('refuses a lifetime over 24 h, a missing sub and a missing secret, printing no token', async () => {
    for (const [args, secret, why] of [
      [['--sub', 'rita', '--ttl', '25h'], SECRET, /at most 24h/],
      [['--roles', 'reviewer'], SECRET, /--sub is required/],
      [['--sub', 'rita', '--ttl', 'soon'], SECRET, /expected e\.g\. 30m/],
      [['--sub', 'rita'], '', /HITL_JWT_SECRET must be set/],
    ] as const) {
      const out = await token([...args], secret);
      expect(out.code, args.join(' ')).toBe(2);
      expect(out.stdout).toBe('');
      expect(out.stderr).toMatch(why);
    }
  }, 60_000);
});

describe('the server side of tokens and keys', () => {
  it('refuses a reviewer JWT whose exp is more than 24 h ahead', async () => {
    const auth = createAuth({ apiKeys: [], jwtSecret: SECRET });
    const now = Math.floor(Date.now() / 1000);
    const long = await sign({ sub: 'rita', roles: ['reviewer'], exp: now + 25 * 3600 }, SECRET, 'HS256');
    const day = await sign({ sub: 'rita', roles: ['reviewer'], exp: now + 23 * 3600 }, SECRET, 'HS256');
    expect(await auth.authenticate(long)).toBeNull();
    expect((await auth.authenticate(day))?.actor).toBe('user:rita');
  });

  it('gives a key configured as label=key the actor service:label; the label is not part of the key', async () => {
    const auth = createAuth({
      apiKeys: ['billing=billing-key-0123456789abcdef', 'padded-key-0123456789abcdef=='],
    });
    expect((await auth.authenticate('billing-key-0123456789abcdef'))?.actor).toBe('service:billing');
    expect(await auth.authenticate('billing=billing-key-0123456789abcdef')).toBeNull();
    expect(() =>
      createAuth({ apiKeys: ['ops=first-key-0123456789abcdef', 'ops=second-key-0123456789abcdef'] }),
    ).toThrow(/HITL_API_KEYS: two keys act as service:ops/);
    // A base64 key ending in `=` is a key, not a label.
    expect((await auth.authenticate('padded-key-0123456789abcdef=='))?.actor).toMatch(
      /^service:[0-9a-f]{8}$/,
    );
  });
});
