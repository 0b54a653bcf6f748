import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectPostgres } from '../../persistence/postgres.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import {
  awaitEnd,
  awaitHuman,
  codeOf,
  createEchoRun,
  echoInput,
  openApproval,
  type TestApp,
  testApp,
} from './support.ts';

let db: TestDatabase;
let t: TestApp;

beforeAll(async () => {
  db = await createTestDatabase();
  t = testApp(db);
});
afterAll(async () => {
  await t.close();
  await db.drop();
});

describe('health', () => {
  it('/healthz answers anonymously', async () => {
    const res = await t.call('GET', '/healthz', { token: null });
    expect([res.status, res.json]).toEqual([200, { status: 'ok' }]);
  });

  it('/readyz reports Postgres, cache and fan-out', async () => {
    const res = await t.call('GET', '/readyz', { token: null });
    expect([res.status, res.json]).toEqual([
      200,
      { status: 'ready', postgres: true, cache: true, bus: true },
    ]);
  });

  it('/readyz answers 503 when Postgres is down, and writes are refused with 503 unavailable', async () => {
    const dead = connectPostgres('postgres://nobody:x@127.0.0.1:1/none', { max: 1, connectTimeout: 1 });
    const down = testApp({
      name: 'dead',
      url: 'postgres://127.0.0.1:1/none',
      sql: dead,
      drop: async () => {},
    });
    try {
      const ready = await down.call('GET', '/readyz', { token: null });
      expect(ready.status).toBe(503);
      expect(ready.json).toMatchObject({ error: { code: 'unavailable' }, postgres: false });
      const create = await down.call('POST', '/hitl/run', { body: { run_input: echoInput() } });
      expect([create.status, codeOf(create.json)]).toEqual([503, 'unavailable']);
    } finally {
      await down.close();
      await dead.end({ timeout: 1 });
    }
  });

  it('/readyz answers 503 while shutting down', async () => {
    const local = testApp(db);
    local.shutdown.abort();
    expect((await local.call('GET', '/readyz', { token: null })).status).toBe(503);
    await local.close();
  });

  it('refuses new requests with 503 once draining starts (liveness still answers)', async () => {
    const draining = new AbortController();
    const local = testApp(db, { app: { draining: draining.signal } });
    try {
      expect((await local.call('GET', '/hitl/providers')).status).toBe(200);
      draining.abort();
      const res = await local.call('POST', '/hitl/run', { body: { run_input: echoInput() } });
      expect([res.status, codeOf(res.json)]).toEqual([503, 'unavailable']);
      expect(res.headers.get('connection')).toBe('close');
      expect((await local.call('GET', '/readyz', { token: null })).status).toBe(503);
      expect((await local.call('GET', '/healthz', { token: null })).status).toBe(200);
    } finally {
      await local.close();
    }
  });
});

describe('GET /metrics', () => {
  it('exposes runs by status, events, decision latency, human wait, apply latency, sockets and HTTP', async () => {
    const id = await createEchoRun(t, { policy: 'require_human', allowed_steps: ['payload_review'] });
    const view = await awaitHuman(t, id);
    await t.call('POST', `/hitl/run/${id}/approve`, {
      body: { approval_id: openApproval(view).approval_id, action: 'approve' },
    });
    await awaitEnd(t, id);
    await new Promise((r) => setTimeout(r, 50));
    const res = await t.call('GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = res.text;
    expect(text).toMatch(/hitl_runs\{status="completed"\} 1/);
    expect(text).toMatch(/hitl_events_total\{type="run.created"\} 1/);
    expect(text).toMatch(/hitl_runs_finished_total\{status="completed"\} 1/);
    expect(text).toMatch(/hitl_decision_latency_seconds_count 1/);
    expect(text).toMatch(
      /hitl_human_wait_seconds_count\{checkpoint_type="payload_review",action="approve"\} 1/,
    );
    expect(text).toMatch(/hitl_event_apply_seconds_count \d+/);
    expect(text).toMatch(/hitl_websockets_open 0/);
    expect(text).toMatch(
      /hitl_http_requests_total\{method="POST",route="\/hitl\/run\/:id\/approve",status="200"\} 1/,
    );
    // Process metrics under their standard names, not prefixed twice (`hitl_process_process_…`).
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes /m);
    expect(text).not.toContain('hitl_process_');
  });
});
