import { describe, expect, it } from 'vitest';
import {
  awaitHuman,
  codeOf,
  createEchoRun,
  echoInput,
  OTHER_KEY,
  type TestApp,
  withTestApp,
} from './support.ts';

let t: TestApp;
withTestApp((app) => {
  t = app;
});

describe('POST /hitl/run', () => {
  it('answers 201 right after the creation commit with the effective config and links', async () => {
    const res = await t.call('POST', '/hitl/run', {
      body: { run_input: echoInput(), hitl_config: { policy: 'require_human', timeout_seconds: 60 } },
    });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({
      status: 'queued',
      current_step: 'created',
      hitl_config: {
        policy: 'require_human',
        timeout_seconds: 60,
        on_timeout: 'expire',
        reviewers: { user_ids: ['u1'] },
      },
    });
    const id = String(res.json.run_id);
    expect(res.json.websocket_url).toBe('ws://localhost/ws');
    expect(res.json.events_url).toBe(`http://localhost/hitl/runs/${id}/events`);
    expect(typeof res.json.message).toBe('string');
  });

  it('lets a top-level or query user_id / session_id win over run_input, and keeps unknown fields', async () => {
    const res = await t.call('POST', '/hitl/run?session_id=s-query', {
      body: {
        run_input: echoInput({ user_id: 'inner', session_id: 'inner', custom_field: { a: 1 } }),
        user_id: 'top',
      },
    });
    const view = (await t.call('GET', `/hitl/runs/${String(res.json.run_id)}`)).json;
    const status = await t.call('GET', `/hitl/runs?user_id=top&session_id=s-query`);
    expect(status.json.total).toBe(1);
    expect((view.original_input as Record<string, unknown>).custom_field).toEqual({ a: 1 });
    expect((view.hitl_config as { reviewers: { user_ids: string[] } }).reviewers.user_ids).toEqual(['top']);
  });

  it('redacts secrets in the input before anything is stored or returned', async () => {
    const id = await createEchoRun(t, {}, { api_key: 'sk-very-secret', nested: { Password: 'hunter2' } });
    const res = await t.call('GET', `/hitl/runs/${id}`);
    expect(res.text).not.toContain('sk-very-secret');
    expect(res.text).not.toContain('hunter2');
    const events = await t.call('GET', `/hitl/runs/${id}/events`);
    expect(events.text).not.toContain('sk-very-secret');
  });

  it('replays the original response for the same Idempotency-Key and body, per service key', async () => {
    const body = { run_input: echoInput({ prompt: 'idempotent' }) };
    const headers = { 'idempotency-key': 'create-1' };
    const first = await t.call('POST', '/hitl/run', { body, headers });
    const again = await t.call('POST', '/hitl/run', { body, headers });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.json).toEqual(first.json);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const other = await t.call('POST', '/hitl/run', { body, headers, token: OTHER_KEY });
    expect(other.status).toBe(201);
    expect(other.json.run_id).not.toBe(first.json.run_id);
    const runs = await t.call('GET', '/hitl/runs?limit=200');
    const prompts = (runs.json.runs as Array<{ original_input: { prompt: string } }>).filter(
      (r) => r.original_input.prompt === 'idempotent',
    );
    expect(prompts).toHaveLength(2);
  });

  it('answers 409 idempotency_conflict for the same key with another body', async () => {
    const headers = { 'idempotency-key': 'create-2' };
    await t.call('POST', '/hitl/run', { body: { run_input: echoInput({ prompt: 'one' }) }, headers });
    const res = await t.call('POST', '/hitl/run', {
      body: { run_input: echoInput({ prompt: 'two' }) },
      headers,
    });
    expect([res.status, codeOf(res.json)]).toEqual([409, 'idempotency_conflict']);
    const bad = await t.call('POST', '/hitl/run', {
      body: { run_input: echoInput() },
      headers: { 'idempotency-key': 'x'.repeat(300) },
    });
    expect(bad.status).toBe(422);
  });

  it('replays concurrent requests with one key as one run', async () => {
    const body = { run_input: echoInput({ prompt: 'concurrent' }) };
    const headers = { 'idempotency-key': 'create-3' };
    const [a, b] = await Promise.all([
      t.call('POST', '/hitl/run', { body, headers }),
      t.call('POST', '/hitl/run', { body, headers }),
    ]);
    expect(a.json.run_id).toBe(b.json.run_id);
  });
});

describe('POST /teams/run (legacy)', () => {
  it('without enable_hitl runs with policy auto and answers 200 with the result', async () => {
    const res = await t.call('POST', '/teams/run?user_id=u9', { body: echoInput({ prompt: 'legacy call' }) });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ status: 'completed', result: { prompt: 'legacy call' } });
    const view = (await t.call('GET', `/hitl/runs/${String(res.json.run_id)}`)).json;
    expect(view.policy).toBe('auto');
  });

  it('answers 202 with the approval as soon as the run stops for a human', async () => {
    const res = await t.call('POST', '/teams/run', {
      body: { ...echoInput(), hitl_config: { policy: 'require_human', allowed_steps: ['payload_review'] } },
    });
    expect(res.status).toBe(202);
    expect(res.json).toMatchObject({
      status: 'awaiting_human',
      approval: { checkpoint_type: 'payload_review' },
    });
  });

  // "answers 202 when ?timeout= passes first" lives in replicate-flow.test.ts: an echo run now
  // completes in one commit, faster than any timeout, while a Replicate prediction is polled.

  it.each(['true', 'True', '1'])(
    'with enable_hitl=%s answers like /hitl/run with auto_with_thresholds',
    async (flag) => {
      const res = await t.call('POST', `/teams/run?enable_hitl=${flag}&session_id=legacy`, {
        body: echoInput(),
      });
      expect(res.status).toBe(201);
      expect(res.json).toMatchObject({
        hitl_enabled: true,
        status: 'queued',
        hitl_config: { policy: 'auto_with_thresholds' },
      });
    },
  );

  it('validates the RunInput body', async () => {
    const res = await t.call('POST', '/teams/run', { body: { user_id: 'u1' } });
    expect(res.status).toBe(422);
    expect((res.json.error as { details: { fields: string[] } }).details.fields).toContain('prompt');
  });
});

describe('POST /teams/run-hitl (legacy)', () => {
  it('defaults to require_human at payload_review and echoes the config', async () => {
    const res = await t.call('POST', '/teams/run-hitl?user_id=u2', { body: { run_input: echoInput() } });
    expect(res.status).toBe(201);
    expect(res.json.config).toEqual(res.json.hitl_config);
    expect(res.json.hitl_config).toMatchObject({
      policy: 'require_human',
      allowed_steps: ['payload_review'],
    });
    const view = await awaitHuman(t, String(res.json.run_id));
    expect(view.current_step).toBe('payload_review');
  });
});
