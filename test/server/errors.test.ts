import { Hono } from 'hono';
import { secureHeaders as honoSecureHeaders } from 'hono/secure-headers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HitlError, type HitlErrorCode } from '../../actors/errors.ts';
import { STATUS_OF } from '../../server/errors.ts';
import { SECURE_HEADERS } from '../../server/secure-headers.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import {
  codeOf,
  createEchoRun,
  echoInput,
  listen,
  reviewerToken,
  SERVICE_KEY,
  type TestApp,
  testApp,
} from './support.ts';

let db: TestDatabase;
let t: TestApp;

beforeAll(async () => {
  db = await createTestDatabase();
  t = testApp(db, { app: { failedAuth: { maxFailures: 1000 } } });
});
afterAll(async () => {
  await t.close();
  await db.drop();
});

const valid = { run_input: echoInput() };

describe('the error boundary', () => {
  it('answers 401 without a token, with a bad token and with a JWT signed by another secret', async () => {
    const none = await t.call('POST', '/hitl/run', { body: valid, token: null });
    expect(none.status).toBe(401);
    expect(none.json).toEqual({
      error: { code: 'unauthorized', message: 'Missing bearer token' },
      detail: 'Missing bearer token',
    });
    expect((await t.call('GET', '/hitl/runs', { token: 'wrong' })).status).toBe(401);
    const forged = await reviewerToken('u1', ['admin'], 'another-secret-0123456789abcdef');
    expect((await t.call('GET', '/hitl/runs', { token: forged })).status).toBe(401);
  });

  it('lets only /healthz, /readyz and the API document through anonymously', async () => {
    expect((await t.call('GET', '/healthz', { token: null })).status).toBe(200);
    expect((await t.call('GET', '/readyz', { token: null })).status).toBe(200);
    expect((await t.call('GET', '/openapi.json', { token: null })).status).toBe(200);
    for (const path of ['/metrics', '/hitl/providers', '/hitl/approvals/pending']) {
      expect((await t.call('GET', path, { token: null })).status, path).toBe(401);
    }
  });

  it('answers 404 not_found for an unknown route (after authentication)', async () => {
    expect((await t.call('GET', '/nope', { token: null })).status).toBe(401);
    const res = await t.call('GET', '/nope');
    expect(res.status).toBe(404);
    expect(codeOf(res.json)).toBe('not_found');
  });

  it('answers 404 for unknown and malformed ids in a path', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000';
    for (const path of [
      `/hitl/runs/${unknown}`,
      '/hitl/runs/not-a-uuid',
      '/hitl/runs/not-a-uuid/state',
      '/hitl/runs/%27%3B--/events',
      '/hitl/run/123/status',
      '/hitl/runs/x/verify',
    ]) {
      const res = await t.call('GET', path);
      expect(res.status, path).toBe(404);
      expect(codeOf(res.json), path).toBe('run_not_found');
    }
    const approval = await t.call('GET', '/hitl/approvals/garbage');
    expect([approval.status, codeOf(approval.json)]).toEqual([404, 'approval_not_found']);
    const pause = await t.call('POST', `/hitl/run/${unknown}/pause`);
    expect([pause.status, codeOf(pause.json)]).toEqual([404, 'run_not_found']);
  });

  it('names a long id or path in its 404 by its start and length, never echoing kilobytes back', async () => {
    const long = 'a'.repeat(10_000);
    for (const [path, code] of [
      [`/hitl/runs/${long}`, 'run_not_found'],
      [`/hitl/runs/${long}/events`, 'run_not_found'],
      [`/hitl/approvals/${long}`, 'approval_not_found'],
      [`/hitl/${long}`, 'not_found'],
    ] as const) {
      const res = await t.call('GET', path);
      expect([res.status, codeOf(res.json)], code).toEqual([404, code]);
      const message = (res.json.error as { message: string }).message;
      expect(message).toContain(`${'a'.repeat(40)}… (`);
      expect(message.length, code).toBeLessThan(200);
    }
    // A short id is still named whole.
    const res = await t.call('GET', '/hitl/runs/not-a-uuid');
    expect((res.json.error as { message: string }).message).toBe('Run not-a-uuid not found');
  });

  it('answers 413 for bodies over 1 MiB, but 401 first', async () => {
    const huge = JSON.stringify({ run_input: echoInput({ prompt: 'x'.repeat(1024 * 1024 + 10) }) });
    const res = await t.call('POST', '/hitl/run', { body: huge });
    expect(res.status).toBe(413);
    expect(codeOf(res.json)).toBe('payload_too_large');
    expect((await t.call('POST', '/hitl/run', { body: huge, token: null })).status).toBe(401);
  });

  it('answers 400 invalid_json for broken or empty JSON, before any schema check', async () => {
    for (const body of ['{"run_input": ', 'not json', '']) {
      const res = await t.call('POST', '/hitl/run', {
        body,
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status, body).toBe(400);
      expect(codeOf(res.json)).toBe('invalid_json');
    }
  });

  it('answers 422 invalid_request naming the failing fields', async () => {
    const res = await t.call('POST', '/hitl/run', {
      body: { run_input: { prompt: 42, attachments: 'x' }, hitl_config: { policy: 'sometimes' } },
    });
    expect(res.status).toBe(422);
    expect(codeOf(res.json)).toBe('invalid_request');
    const fields = (res.json.error as { details: { fields: string[] } }).details.fields;
    expect(fields).toEqual(
      expect.arrayContaining(['run_input.prompt', 'run_input.attachments', 'hitl_config.policy']),
    );
    expect(res.json.detail).toBe((res.json.error as { message: string }).message);
  });

  it('refuses unknown hitl_config keys (the original silently dropped them)', async () => {
    const res = await t.call('POST', '/hitl/run', {
      body: { ...valid, hitl_config: { policy: 'auto', polcy: 'x' } },
    });
    expect(res.status).toBe(422);
    expect(JSON.stringify(res.json.error)).toContain('polcy');
    const nested = await t.call('POST', '/hitl/run', {
      body: { ...valid, hitl_config: { review_thresholds: { response_quality_min: 0.5, extra: 1 } } },
    });
    expect(nested.status).toBe(422);
  });

  it('answers 422 for bad query parameters', async () => {
    for (const q of ['limit=0', 'limit=201', 'limit=abc', 'status=running,bogus']) {
      const res = await t.call('GET', `/hitl/runs?${q}`);
      expect(res.status, q).toBe(422);
      expect(codeOf(res.json)).toBe('invalid_request');
    }
    expect((await t.call('GET', '/hitl/runs?cursor=not-a-cursor')).status).toBe(422);
  });

  it('maps provider errors: no provider 400, two providers 422, Replicate without a token 400', async () => {
    const none = await t.call('POST', '/hitl/run', { body: { run_input: { prompt: 'p' } } });
    expect([none.status, codeOf(none.json)]).toEqual([400, 'unsupported_provider']);
    const two = await t.call('POST', '/hitl/run', {
      body: {
        run_input: { prompt: 'p', agent_tool_config: { 'echo-agent-tool': {}, 'replicate-agent-tool': {} } },
      },
    });
    expect([two.status, codeOf(two.json)]).toEqual([422, 'invalid_request']);
    const replicate = await t.call('POST', '/hitl/run', {
      body: { run_input: { prompt: 'p', agent_tool_config: { 'replicate-agent-tool': { name: 'a/b' } } } },
    });
    expect([replicate.status, codeOf(replicate.json)]).toEqual([400, 'provider_not_configured']);
    expect((await t.call('GET', '/hitl/runs')).json.total).toBe(0);
  });

  it('follows the precedence of SPEC §3: 422 before 404 before 403 before 409', async () => {
    const reviewer = await reviewerToken('someone-else', ['viewer']);
    const unknown = '00000000-0000-4000-8000-000000000000';
    const bad = await t.call('POST', `/hitl/run/${unknown}/approve`, {
      body: { action: 'approve' },
      token: reviewer,
    });
    expect(codeOf(bad.json)).toBe('invalid_request');
    const missing = await t.call('POST', `/hitl/run/${unknown}/approve`, {
      body: { approval_id: unknown, action: 'approve' },
      token: reviewer,
    });
    expect(codeOf(missing.json)).toBe('run_not_found');
    const runId = await createEchoRun(t);
    const noApproval = await t.call('POST', `/hitl/run/${runId}/approve`, {
      body: { approval_id: unknown, action: 'approve' },
      token: reviewer,
    });
    expect(codeOf(noApproval.json)).toBe('approval_not_found');
  });

  it('sets secure headers', async () => {
    const res = await t.call('GET', '/healthz');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
  });

  it("sets Hono's default secure headers behind a Node socket too, on answers and on errors", async () => {
    const expected = Object.fromEntries(SECURE_HEADERS.map(([k, v]) => [k.toLowerCase(), v]));
    // Hono's own middleware (what `app.request` runs) sets exactly these.
    const bare = new Hono().use(honoSecureHeaders()).get('/', (c) => c.json({}));
    const honoHeaders = Object.fromEntries((await bare.request('/')).headers);
    delete honoHeaders['content-type'];
    expect(honoHeaders).toEqual(expected);
    const server = await listen(t.app);
    try {
      const headers = { authorization: `Bearer ${SERVICE_KEY}` };
      for (const [path, auth, status] of [
        ['/healthz', {}, 200],
        ['/hitl/runs', headers, 200],
        ['/hitl/runs', {}, 401],
        ['/no-such-route', headers, 404],
      ] as const) {
        const res = await fetch(`${server.url}${path}`, { headers: auth });
        await res.text();
        expect(res.status, path).toBe(status);
        for (const [name, value] of Object.entries(expected)) expect(res.headers.get(name), name).toBe(value);
      }
    } finally {
      await server.close();
    }
  });

  it('maps every runtime error code to its status in one table', () => {
    const codes = Object.keys(STATUS_OF) as HitlErrorCode[];
    expect(codes).toHaveLength(19);
    expect(new HitlError('run_terminal', 'x').code).toBe('run_terminal');
    expect(STATUS_OF.approval_not_pending).toBe(409);
    expect(STATUS_OF.unavailable).toBe(503);
  });
});

describe('failed authentications', () => {
  it('are rate-limited per client address: 429 rate_limited with Retry-After', async () => {
    const limited = testApp(db, { app: { failedAuth: { maxFailures: 3, windowMs: 60_000 } } });
    try {
      for (let i = 0; i < 3; i++)
        expect((await limited.call('GET', '/hitl/runs', { token: 'guess' })).status).toBe(401);
      const res = await limited.call('GET', '/hitl/runs', { token: 'guess' });
      expect(res.status).toBe(429);
      expect(codeOf(res.json)).toBe('rate_limited');
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await limited.close();
    }
  });
});
