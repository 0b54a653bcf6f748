import { describe, expect, it } from 'vitest';
import {
  awaitEnd,
  awaitHuman,
  createEchoRun,
  openApproval,
  SERVICE_ACTOR,
  type TestApp,
  withTestApp,
} from './support.ts';

let t: TestApp;
withTestApp((app) => {
  t = app;
});

describe('reading runs', () => {
  it('GET /hitl/run/{id}/status reports progress, never above 100 %', async () => {
    const id = await createEchoRun(t, { policy: 'require_human', allowed_steps: ['payload_review'] });
    const view = await awaitHuman(t, id);
    const res = await t.call('GET', `/hitl/run/${id}/status`);
    expect(res.json).toMatchObject({
      run_id: id,
      status: 'awaiting_human',
      current_step: 'payload_review',
      approval_id: openApproval(view).approval_id,
      pending_actions: ['approve', 'edit', 'reject'],
      progress: { total_steps: 4, completed_steps: 1, percentage: 25, current_step: 'payload_review' },
    });
    await t.call('POST', `/hitl/run/${id}/approve`, {
      body: { approval_id: openApproval(view).approval_id, approved: true },
    });
    await awaitEnd(t, id);
    const done = await t.call('GET', `/hitl/run/${id}/status`);
    expect(done.json.progress).toMatchObject({ completed_steps: 4, percentage: 100 });
  });

  it('GET /hitl/runs/{id} and /state return the same view; wait_for long-polls until the run is there', async () => {
    const id = await createEchoRun(t, { policy: 'require_human', allowed_steps: ['response_review'] });
    const started = Date.now();
    const waited = await awaitHuman(t, id);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(waited).toMatchObject({ status: 'awaiting_human', current_step: 'response_review', run_id: id });
    const state = await t.call('GET', `/hitl/runs/${id}/state`);
    const view = await t.call('GET', `/hitl/runs/${id}`);
    expect(state.json.seq).toBe(view.json.seq);
    expect(Object.keys(view.json).sort()).toEqual(
      [
        'approval',
        'capabilities',
        'created_at',
        'current_step',
        'error',
        'expires_at',
        'final_result',
        'hitl_config',
        'human_review_time_ms',
        'original_input',
        'pending_actions',
        'policy',
        'prediction',
        'processed_response',
        'provider_execution_time_ms',
        'raw_response',
        'run_id',
        'seq',
        'status',
        'step_history',
        'suggested_payload',
        'total_execution_time_ms',
        'updated_at',
        'validation_issues',
      ].sort(),
    );
  });

  it('wait_for answers with the current view when the timeout passes', async () => {
    const id = await createEchoRun(t, { policy: 'require_human', allowed_steps: ['payload_review'] });
    await awaitHuman(t, id);
    const started = Date.now();
    const res = await t.call('GET', `/hitl/runs/${id}?wait_for=terminal&timeout=0.3`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(res.json.status).toBe('awaiting_human');
    expect((await t.call('GET', `/hitl/runs/${id}?wait_for=sometime`)).status).toBe(422);
  });

  it('GET /hitl/runs/{id}/verify replays the log and finds it consistent', async () => {
    const id = await createEchoRun(t);
    const end = await awaitEnd(t, id);
    const res = await t.call('GET', `/hitl/runs/${id}/verify`);
    expect(res.json).toEqual({ run_id: id, seq: end.seq, consistent: true });
  });

  it('GET /hitl/runs filters, pages newest first and rejects foreign cursors', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push(await createEchoRun(t, {}, { user_id: 'pager', session_id: `p${i % 2}` }));
    for (const id of ids) await awaitEnd(t, id);
    const first = await t.call('GET', '/hitl/runs?user_id=pager&limit=2');
    expect(first.json.total).toBe(5);
    const page1 = first.json.runs as Array<{ run_id: string }>;
    expect(page1.map((r) => r.run_id)).toEqual([ids[4], ids[3]]);
    const second = await t.call(
      'GET',
      `/hitl/runs?user_id=pager&limit=2&cursor=${String(first.json.next_cursor)}`,
    );
    expect((second.json.runs as Array<{ run_id: string }>).map((r) => r.run_id)).toEqual([ids[2], ids[1]]);
    const session = await t.call('GET', '/hitl/runs?user_id=pager&session_id=p0');
    expect(session.json.total).toBe(3);
    const byStatus = await t.call('GET', '/hitl/runs?user_id=pager&status=completed,failed');
    expect(byStatus.json.total).toBe(5);
    expect((await t.call('GET', '/hitl/runs?user_id=pager&status=running')).json.total).toBe(0);
  });

  it('GET /hitl/runs/active and /hitl/sessions/{id}/active list non-terminal runs', async () => {
    const waiting = await createEchoRun(
      t,
      { policy: 'require_human' },
      { user_id: 'act', session_id: 'chat-1' },
    );
    const done = await createEchoRun(t, {}, { user_id: 'act', session_id: 'chat-1' });
    await awaitHuman(t, waiting);
    await awaitEnd(t, done);
    const active = await t.call('GET', '/hitl/runs/active?user_id=act');
    expect((active.json.runs as Array<{ run_id: string }>).map((r) => r.run_id)).toEqual([waiting]);
    const session = await t.call('GET', '/hitl/sessions/chat-1/active');
    expect(session.json).toMatchObject({ total: 1, has_pending_approvals: true, session_id: 'chat-1' });
    const empty = await t.call('GET', '/hitl/sessions/nobody/active');
    expect(empty.json).toMatchObject({ total: 0, runs: [], has_pending_approvals: false, next_cursor: null });
  });

  it('GET /hitl/providers lists echo and replicate with their tool keys', async () => {
    const res = await t.call('GET', '/hitl/providers');
    expect(res.json.total).toBe(2);
    expect(res.json.providers).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'echo', tools: ['echo-agent-tool'], configured: true }),
        expect.objectContaining({ name: 'replicate', configured: false }),
      ]),
    );
  });

  it('records the creating key as the actor of run.created', async () => {
    const id = await createEchoRun(t);
    const events = await t.call('GET', `/hitl/runs/${id}/events?limit=1`);
    expect((events.json.events as Array<{ actor: string }>)[0]?.actor).toBe(SERVICE_ACTOR);
  });
});
