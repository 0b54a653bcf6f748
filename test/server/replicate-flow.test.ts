import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { type FakeReplicate, startFakeReplicate } from '../support/fake-replicate.ts';
import { awaitEnd, awaitHuman, codeOf, openApproval, type TestApp, testApp } from './support.ts';

/** The whole flow over HTTP alone, against the fake Replicate server through the real client. */

let db: TestDatabase;
let fake: FakeReplicate;
let t: TestApp;

const MODEL = {
  name: 'acme/painter',
  version: 'ver-painter-1',
  description: 'Paints what you ask',
  example_input: { prompt: 'a demo painting', num_outputs: 1, steps: 20 },
  cost_per_run: 0.01,
};
const ALL_STEPS = ['information_review', 'payload_review', 'response_review'];

beforeAll(async () => {
  db = await createTestDatabase();
  fake = await startFakeReplicate();
  t = testApp(db, { replicateUrl: fake.url });
});
beforeEach(() => fake.reset());
afterAll(async () => {
  await t.close();
  await fake.close();
  await db.drop();
});

async function startRun(hitl_config: Record<string, unknown>, prompt = 'a lighthouse at dusk') {
  const res = await t.call('POST', '/hitl/run', {
    body: {
      run_input: {
        prompt,
        user_id: 'u1',
        session_id: 's1',
        agent_tool_config: { 'replicate-agent-tool': { data: MODEL } },
      },
      hitl_config,
    },
  });
  if (res.status !== 201) throw new Error(`${res.status} ${res.text}`);
  return String(res.json.run_id);
}

async function decide(runId: string, view: Record<string, unknown>, body: Record<string, unknown>) {
  const res = await t.call('POST', `/hitl/run/${runId}/approve`, {
    body: { approval_id: openApproval(view).approval_id, ...body },
  });
  if (res.status !== 200) throw new Error(`${res.status} ${res.text}`);
  return res.json;
}

describe('a Replicate run over HTTP', () => {
  it('stops at all three checkpoints under require_human and completes with the output as returned', async () => {
    const id = await startRun({ policy: 'require_human', allowed_steps: ALL_STEPS });
    const info = await awaitHuman(t, id);
    expect(openApproval(info)).toMatchObject({
      checkpoint_type: 'information_review',
      actions: ['approve', 'edit', 'reject'],
    });
    expect(info.capabilities).toMatchObject({
      model: 'acme/painter',
      version: 'ver-painter-1',
      estimated_cost: 0.01,
    });
    await decide(id, info, { action: 'approve' });

    const payload = await awaitHuman(t, id);
    expect(openApproval(payload).checkpoint_type).toBe('payload_review');
    expect(payload.suggested_payload).toEqual({ prompt: 'a lighthouse at dusk', num_outputs: 1, steps: 20 });
    await decide(id, payload, { action: 'approve' });

    const response = await awaitHuman(t, id);
    expect(openApproval(response).checkpoint_type).toBe('response_review');
    expect(fake.received.creates).toHaveLength(1);
    expect(fake.received.creates[0]?.input).toEqual(payload.suggested_payload);
    expect(fake.received.creates[0]?.version).toBe('ver-painter-1');
    await decide(id, response, { action: 'approve' });

    const end = await awaitEnd(t, id);
    const predictionId = (end.prediction as { id: string }).id;
    expect(end).toMatchObject({ status: 'completed', current_step: 'completed' });
    expect(end.final_result).toEqual([`https://replicate.delivery/fake/${predictionId}/out-0.png`]);
    expect((await t.call('GET', `/hitl/runs/${id}/verify`)).json.consistent).toBe(true);
  });

  it('sends exactly the edited payload', async () => {
    const id = await startRun({ policy: 'require_human', allowed_steps: ['payload_review'] });
    const at = await awaitHuman(t, id);
    await decide(id, at, {
      action: 'edit',
      edits: { payload: { steps: 35, prompt: 'a lighthouse in a storm' } },
    });
    const end = await awaitEnd(t, id);
    expect(end.status).toBe('completed');
    expect(fake.received.creates.map((c) => c.input)).toEqual([
      { prompt: 'a lighthouse in a storm', num_outputs: 1, steps: 35 },
    ]);
    expect(end.suggested_payload).toEqual(fake.received.creates[0]?.input);
  });

  it('edits the prompt at information_review and the payload is rebuilt from it', async () => {
    const id = await startRun({ policy: 'require_human', allowed_steps: ['information_review'] });
    const at = await awaitHuman(t, id);
    await decide(id, at, { action: 'edit', edits: { prompt: 'a castle at noon' } });
    await awaitEnd(t, id);
    expect(fake.received.creates[0]?.input).toMatchObject({ prompt: 'a castle at noon' });
  });

  it('retries at response_review: a second prediction, then approve', async () => {
    fake.script({ kind: 'succeed', output: ['https://replicate.delivery/first.png'] });
    fake.script({ kind: 'succeed', output: ['https://replicate.delivery/second.png'] });
    const id = await startRun({ policy: 'require_human', allowed_steps: ['response_review'] });
    const first = await awaitHuman(t, id);
    expect((first.processed_response as { output: unknown }).output).toEqual([
      'https://replicate.delivery/first.png',
    ]);
    await decide(id, first, { action: 'retry', edits: { payload: { steps: 50 } } });
    const second = await awaitHuman(t, id);
    expect(openApproval(second).approval_id).not.toBe(openApproval(first).approval_id);
    await decide(id, second, { action: 'approve' });
    const end = await awaitEnd(t, id);
    expect(end.final_result).toEqual(['https://replicate.delivery/second.png']);
    expect(fake.received.creates.map((c) => (c.input as { steps: number }).steps)).toEqual([20, 50]);
  });

  it('edits the response: final_result is the edit, verbatim', async () => {
    const id = await startRun({ policy: 'require_human', allowed_steps: ['response_review'] });
    const at = await awaitHuman(t, id);
    await decide(id, at, { action: 'edit', edits: { response: { picked: 'none of them' } } });
    expect((await awaitEnd(t, id)).final_result).toEqual({ picked: 'none of them' });
  });

  it('rejects: the run ends cancelled with error code rejected, nothing is submitted', async () => {
    const id = await startRun({ policy: 'require_human', allowed_steps: ['payload_review'] });
    const at = await awaitHuman(t, id);
    const res = await decide(id, at, { action: 'reject', reason: 'wrong model' });
    expect(res).toMatchObject({ status: 'cancelled', action: 'reject' });
    const end = await awaitEnd(t, id);
    expect(end.error).toMatchObject({ code: 'rejected' });
    expect(fake.received.creates).toHaveLength(0);
    const events = await t.call('GET', `/hitl/runs/${id}/events`);
    const types = (events.json.events as Array<{ type: string }>).map((e) => e.type);
    expect(types.slice(-2)).toEqual(['review.reject', 'run.cancelled']);
  });

  it('opens error_recovery on a model validation error; retry submits again', async () => {
    fake.script({
      kind: 'http',
      status: 422,
      body: { title: 'Invalid input', detail: 'steps must be <= 50', status: 422 },
    });
    const id = await startRun({ policy: 'auto' });
    const at = await awaitHuman(t, id);
    expect(openApproval(at)).toMatchObject({
      checkpoint_type: 'error_recovery',
      actions: ['edit', 'retry', 'reject'],
    });
    expect(at.current_step).toBe('api_call');
    const bad = await t.call('POST', `/hitl/run/${id}/approve`, {
      body: { approval_id: openApproval(at).approval_id, action: 'approve' },
    });
    expect([bad.status, codeOf(bad.json)]).toEqual([422, 'invalid_action']);
    await decide(id, at, { action: 'retry' });
    expect((await awaitEnd(t, id)).status).toBe('completed');
    expect(fake.received.creates).toHaveLength(2);
  });

  it('fails the run when the prediction fails on the provider', async () => {
    fake.script({ kind: 'fail', error: 'CUDA out of memory' });
    const id = await startRun({ policy: 'auto' });
    const end = await awaitEnd(t, id);
    expect(end.status).toBe('failed');
    expect(JSON.stringify(end.error)).toContain('CUDA out of memory');
  });

  it('pauses while the prediction runs and resumes where it stopped', async () => {
    fake.setDefault({ kind: 'succeed', afterMs: 600 });
    const id = await startRun({ policy: 'auto' });
    let paused: { status: number; json: Record<string, unknown> } | null = null;
    for (let i = 0; i < 100 && !paused; i++) {
      const res = await t.call('POST', `/hitl/run/${id}/pause`, { body: { reason: 'hold on' } });
      if (res.status === 200) paused = res;
      else await new Promise((r) => setTimeout(r, 10));
    }
    expect(paused?.json).toMatchObject({ success: true, status: 'paused' });
    expect(codeOf((await t.call('POST', `/hitl/run/${id}/pause`)).json)).toBe('invalid_transition');
    await new Promise((r) => setTimeout(r, 900));
    expect((await t.call('GET', `/hitl/runs/${id}`)).json.status).toBe('paused');
    const resumed = await t.call('POST', `/hitl/run/${id}/resume`);
    expect(resumed.status).toBe(200);
    expect((await awaitEnd(t, id)).status).toBe('completed');
  });

  it('answers the legacy /teams/run with the result', async () => {
    const res = await t.call('POST', '/teams/run?user_id=legacy', {
      body: { prompt: 'a boat', agent_tool_config: { 'replicate-agent-tool': MODEL } },
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ status: 'completed' });
    expect(res.json.result).toEqual([
      expect.stringMatching(/^https:\/\/replicate\.delivery\/fake\/.+\/out-0\.png$/),
    ]);
    expect(fake.received.creates[0]?.input).toEqual({ prompt: 'a boat', num_outputs: 1, steps: 20 });
  });
});

describe('POST /teams/run (legacy) with a prediction still running', () => {
  it('answers 202 when ?timeout= passes first', async () => {
    fake.script({ kind: 'succeed', afterMs: 1_500 });
    const res = await t.call('POST', '/teams/run?timeout=0.2', {
      body: {
        prompt: 'a lighthouse at dusk',
        user_id: 'u1',
        agent_tool_config: { 'replicate-agent-tool': { data: MODEL } },
      },
    });
    expect(res.status, res.text).toBe(202);
    expect(['queued', 'running']).toContain(res.json.status);
    // It goes on after the answer: the run still completes on its own.
    const done = await awaitEnd(t, String(res.json.run_id));
    expect(done.status).toBe('completed');
  });
});
