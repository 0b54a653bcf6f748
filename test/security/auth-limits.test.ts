import { sign } from 'hono/jwt';
import { describe, expect, it } from 'vitest';
import { createAuth } from '../../server/auth/auth.ts';
import { createFailureLimiter } from '../../server/auth/rate-limit.ts';
import { loadConfig } from '../../server/config.ts';
import { attachWebSocket } from '../../server/ws/hub.ts';
import { JWT_SECRET, listen, SERVICE_KEY, type TestApp, withTestApp } from '../server/support.ts';

/** SPEC §7: JWT lifetime, one failed-auth limiter for HTTP and WebSocket, proxies, key length. */

const limiter = createFailureLimiter({ maxFailures: 5, trustProxy: true });
let t: TestApp;
withTestApp(
  (app) => {
    t = app;
  },
  { app: { limiter } },
);

const token = (sub: string, expInSeconds: number) =>
  sign({ sub, roles: ['reviewer'], exp: Math.floor(Date.now() / 1000) + expInSeconds }, JWT_SECRET, 'HS256');

function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    import('ws').then(({ WebSocket }) => {
      const ws = new WebSocket(url, { headers });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => {
        ws.close();
        resolve(101);
      });
      ws.on('error', () => undefined);
    }, reject);
  });
}

describe('reviewer JWTs', () => {
  it('with exp more than 24 h ahead are refused; a day or less is fine', async () => {
    expect((await t.call('GET', '/hitl/runs', { token: await token('u1', 23 * 3600) })).status).toBe(200);
    const long = await t.call('GET', '/hitl/runs', {
      token: await token('u1', 25 * 3600),
      headers: { 'x-forwarded-for': '10.0.0.1' },
    });
    expect(long.status).toBe(401);
  });
});

describe('the failed-authentication limiter', () => {
  it('is one for HTTP and the WebSocket, keyed by the client address (X-Forwarded-For when trusted)', async () => {
    const server = await listen(t.app);
    const hub = attachWebSocket(server.server, {
      host: t.host,
      approvals: t.approvals,
      auth: createAuth({ apiKeys: [SERVICE_KEY], jwtSecret: JWT_SECRET }),
      log: { info() {}, warn() {}, error() {} },
      limiter,
    });
    const wsUrl = `${server.url.replace('http', 'ws')}/ws`;
    try {
      // Three failures over HTTP and two over the WebSocket from one client use up its five.
      for (let i = 0; i < 3; i++) {
        const res = await t.call('GET', '/hitl/runs', {
          token: 'wrong',
          headers: { 'x-forwarded-for': '203.0.113.7' },
        });
        expect(res.status).toBe(401);
      }
      for (let i = 0; i < 2; i++) {
        expect(
          await upgradeStatus(wsUrl, { authorization: 'Bearer wrong', 'x-forwarded-for': '203.0.113.7' }),
        ).toBe(401);
      }
      const blocked = await t.call('GET', '/hitl/runs', { headers: { 'x-forwarded-for': '203.0.113.7' } });
      expect(blocked.status).toBe(429);
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(
        await upgradeStatus(wsUrl, {
          authorization: `Bearer ${SERVICE_KEY}`,
          'x-forwarded-for': '203.0.113.7',
        }),
      ).toBe(429);
      // Another client behind the same proxy is not blocked.
      const other = await t.call('GET', '/hitl/runs', { headers: { 'x-forwarded-for': '203.0.113.8' } });
      expect(other.status).toBe(200);
      expect(
        await upgradeStatus(wsUrl, {
          authorization: `Bearer ${SERVICE_KEY}`,
          'x-forwarded-for': '198.51.100.1',
        }),
      ).toBe(101);
    } finally {
      await hub.close();
      await server.close();
    }
  });

  it('ignores X-Forwarded-For unless HITL_TRUST_PROXY is set', () => {
    const untrusting = createFailureLimiter({});
    expect(untrusting.addressOf('127.0.0.1', '203.0.113.7')).toBe('127.0.0.1');
    expect(limiter.addressOf('127.0.0.1', 'spoofed, 203.0.113.7')).toBe('203.0.113.7');
    expect(loadConfig({ HITL_TRUST_PROXY: '1' }).HITL_TRUST_PROXY).toBe(true);
    expect(loadConfig({}).HITL_TRUST_PROXY).toBe(false);
  });
});

describe('service keys', () => {
  it('shorter than 16 characters are a configuration error naming HITL_API_KEYS, never the key', () => {
    expect(() => loadConfig({ HITL_API_KEYS: 'tiny-key' })).toThrow(
      /HITL_API_KEYS: every key must be at least 16/,
    );
    expect(() => loadConfig({ HITL_API_KEYS: 'tiny-key' })).not.toThrow(/tiny-key/);
    expect(() => loadConfig({ HITL_API_KEYS: 'billing=tiny' })).toThrow(/HITL_API_KEYS/);
    expect(
      loadConfig({ HITL_API_KEYS: 'a-long-enough-key-123,billing=another-long-key-45' }).HITL_API_KEYS,
    ).toHaveLength(2);
  });
});
