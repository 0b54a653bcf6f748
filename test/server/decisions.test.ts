import { describe, expect, it } from 'vitest';
import {
  awaitEnd,
  awaitHuman,
  codeOf,
  runAtPayloadReview,
  SERVICE_ACTOR,
  type TestApp,
  withTestApp,
} from './support.ts';

let t: TestApp;
withTestApp((app) => {
  t = app;
});

const atPayloadReview = (config?: Record<string, unknown>, input?: Record<string, unknown>) =>
  runAtPayloadReview(t, config, input);

describe('POST /hitl/run/{id}/approve', () => {
  it('approves and the run completes with the payload as its result', async () => {
    const { id, approvalId } = await atPayloadReview();
    const res = await t.call('POST', `/hitl/run/${id}/approve`, {
      body: { approval_id: approvalId, action: 'approve', reason: 'looks fine', approved_by: 'alice' },
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ success: true, run_id: id, approval_id: approvalId, action: 'approve' });
    const end = await awaitEnd(t, id);
    expect(end).toMatchObject({ status: 'completed', final_result: { prompt: 'a red fox in the snow' } });
    const approval = (await t.call('GET', `/hitl/approvals/${approvalId}`)).json;
    expect(approval).toMatchObject({
      status: 'approved',
      decision: { action: 'approve', reason: 'looks fine', actor: SERVICE_ACTOR, on_behalf_of: 'alice' },
    });
  });

  it('accepts approval_token for approval_id and approved: false for reject', async () => {
    const { id, approvalId } = await atPayloadReview();
    const res = await t.call('POST', `/hitl/run/${id}/approve`, {
      body: { approval_token: approvalId, approved: false },
    });
    expect(res.json).toMatchObject({ action: 'reject', status: 'cancelled', current_step: 'cancelled' });
    const end = await awaitEnd(t, id);
    expect(end.error).toMatchObject({ code: 'rejected' });
  });

  it('edits the payload: exactly the edited payload is submitted', async () => {
    const { id, approvalId } = await atPayloadReview();
    const res = await t.call('POST', `/hitl/run/${id}/approve`, {
      body: { approval_id: approvalId, action: 'edit', edits: { payload: { prompt: 'a blue fox' } } },
    });
    expect(res.status).toBe(200);
    const end = await awaitEnd(t, id);
    expect(end.final_result).toEqual({ prompt: 'a blue fox' });
  });

  it('answers 409 approval_not_pending for a stale or repeated decision, and nothing changes', async () => {
    const { id, approvalId } = await atPayloadReview({
      policy: 'require_human',
      allowed_steps: ['payload_review', 'response_review'],
    });
    const first = await t.call('POST', `/hitl/run/${id}/approve`, {
      body: { approval_id: approvalId, action: 'approve' },
    });
    expect(first.status).toBe(200);
    const at = await awaitHuman(t, id);
    expect(at.current_step).toBe('response_review');
    const again = await t.call('POST', `/hitl/run/${id}/approve`, {
      body: { approval_id: approvalId, action: 'approve' },
    });
    expect([again.status, codeOf(again.json)]).toEqual([409, 'approval_not_pending']);
    expect((await t.call('GET', `/hitl/runs/${id}`)).json.seq).toBe(at.seq);
  });

  it('lets exactly one of two concurrent decisions win', async () => {
    const { id, approvalId } = await atPayloadReview();
    const results = await Promise.all(
      ['approve', 'reject'].map((action) =>
        t.call('POST', `/hitl/run/${id}/approve`, { body: { approval_id: approvalId, action } }),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
  });

  it('answers 409 run_terminal for a decision on a finished run', async () => {
    const { id, approvalId } = await atPayloadReview();
    await t.call('DELETE', `/hitl/run/${id}`);
    const res = await t.call('POST', `/hitl/run/${id}/approve`, {
      body: { approval_id: approvalId, action: 'approve' },
    });
    expect([res.status, codeOf(res.json)]).toEqual([409, 'run_terminal']);
  });

  it('answers 422 invalid_action and invalid_edits, and nothing changes', async () => {
    const { id, approvalId, view } = await atPayloadReview();
    const retry = await t.call('POST', `/hitl/run/${id}/approve`, {
      body: { approval_id: approvalId, action: 'retry' },
    });
    expect([retry.status, codeOf(retry.json)]).toEqual([422, 'invalid_action']);
    const noEdits = await t.call('POST', `/hitl/run/${id}/approve`, {
      body: { approval_id: approvalId, action: 'edit' },
    });
    expect([noEdits.status, codeOf(noEdits.json)]).toEqual([422, 'invalid_edits']);
    const wrongKey = await t.call('POST', `/hitl/run/${id}/approve`, {
      body: { approval_id: approvalId, action: 'edit', edits: { response: 'x' } },
    });
    expect([wrongKey.status, codeOf(wrongKey.json)]).toEqual([422, 'invalid_edits']);
    const unknownAction = await t.call('POST', `/hitl/run/${id}/approve`, {
      body: { approval_id: approvalId, action: 'maybe' },
    });
    expect([unknownAction.status, codeOf(unknownAction.json)]).toEqual([422, 'invalid_request']);
    expect((await t.call('GET', `/hitl/runs/${id}`)).json.seq).toBe(view.seq);
  });

  it('answers 404 approval_not_found for an approval of another run', async () => {
    const a = await atPayloadReview();
    const b = await atPayloadReview();
    const res = await t.call('POST', `/hitl/run/${a.id}/approve`, {
      body: { approval_id: b.approvalId, action: 'approve' },
    });
    expect([res.status, codeOf(res.json)]).toEqual([404, 'approval_not_found']);
  });
});

describe('POST /hitl/approvals/{id}/respond on a run checkpoint', () => {
  it('decides it like /approve', async () => {
    const { id, approvalId } = await atPayloadReview();
    const res = await t.call('POST', `/hitl/approvals/${approvalId}/respond`, {
      body: { action: 'approve' },
    });
    expect(res.json).toMatchObject({ success: true, run_id: id, approval_id: approvalId, action: 'approve' });
    expect((await awaitEnd(t, id)).status).toBe('completed');
    const stale = await t.call('POST', `/hitl/approvals/${approvalId}/respond`, {
      body: { action: 'approve' },
    });
    expect([stale.status, codeOf(stale.json)]).toEqual([409, 'run_terminal']);
  });
});

describe('pause, resume and cancel', () => {
  it('refuses pause while awaiting a human and resume when not paused (409 invalid_transition)', async () => {
    const { id } = await atPayloadReview();
    const pause = await t.call('POST', `/hitl/run/${id}/pause`);
    expect([pause.status, codeOf(pause.json)]).toEqual([409, 'invalid_transition']);
    const resume = await t.call('POST', `/hitl/run/${id}/resume`, { body: { reason: 'why not' } });
    expect([resume.status, codeOf(resume.json)]).toEqual([409, 'invalid_transition']);
  });

  it('cancels a run and its open approval; a second cancel is 409 run_terminal', async () => {
    const { id, approvalId } = await atPayloadReview();
    const res = await t.call('DELETE', `/hitl/run/${id}`, { body: { reason: 'not needed' } });
    expect(res.json).toEqual({ success: true, run_id: id, status: 'cancelled', current_step: 'cancelled' });
    expect((await t.call('GET', `/hitl/approvals/${approvalId}`)).json.status).toBe('cancelled');
    const again = await t.call('DELETE', `/hitl/run/${id}`);
    expect([again.status, codeOf(again.json)]).toEqual([409, 'run_terminal']);
    const pause = await t.call('POST', `/hitl/run/${id}/pause`);
    expect(codeOf(pause.json)).toBe('run_terminal');
  });

  it('DELETE /hitl/approvals/{id} on a run checkpoint cancels the run', async () => {
    const { id, approvalId } = await atPayloadReview();
    const res = await t.call('DELETE', `/hitl/approvals/${approvalId}`);
    expect(res.json).toMatchObject({
      success: true,
      approval_id: approvalId,
      run_id: id,
      status: 'cancelled',
    });
    expect((await t.call('GET', `/hitl/runs/${id}`)).json.status).toBe('cancelled');
    const again = await t.call('DELETE', `/hitl/approvals/${approvalId}`);
    expect([again.status, codeOf(again.json)]).toEqual([409, 'run_terminal']);
  });
});
