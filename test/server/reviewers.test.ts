import { describe, expect, it } from 'vitest';
import {
  codeOf,
  createEchoRun,
  echoInput,
  reviewerToken,
  runAtPayloadReview,
  type TestApp,
  withTestApp,
} from './support.ts';

let t: TestApp;
withTestApp((app) => {
  t = app;
});

const PAYLOAD_ONLY = { policy: 'require_human', allowed_steps: ['payload_review'] };
const atPayloadReview = (config?: Record<string, unknown>, input?: Record<string, unknown>) =>
  runAtPayloadReview(t, config, input);

describe('reviewers (JWT)', () => {
  it('may decide approvals they are reviewers of, and are recorded as user:<sub>', async () => {
    const { id, approvalId } = await atPayloadReview();
    const token = await reviewerToken('u1', []);
    const res = await t.call('POST', `/hitl/run/${id}/approve`, {
      body: { approval_id: approvalId, action: 'approve', approved_by: 'u1' },
      token,
    });
    expect(res.status).toBe(200);
    const approval = (await t.call('GET', `/hitl/approvals/${approvalId}`, { token })).json;
    expect((approval.decision as { actor: string }).actor).toBe('user:u1');
  });

  it('get 403 on an approval that is not theirs, or with another approved_by', async () => {
    const { id, approvalId } = await atPayloadReview();
    const stranger = await reviewerToken('mallory', ['viewer']);
    const res = await t.call('POST', `/hitl/run/${id}/approve`, {
      body: { approval_id: approvalId, action: 'approve' },
      token: stranger,
    });
    expect([res.status, codeOf(res.json)]).toEqual([403, 'forbidden']);
    const respond = await t.call('POST', `/hitl/approvals/${approvalId}/respond`, {
      body: { action: 'reject' },
      token: stranger,
    });
    expect(respond.status).toBe(403);
    const owner = await reviewerToken('u1', []);
    const spoof = await t.call('POST', `/hitl/run/${id}/approve`, {
      body: { approval_id: approvalId, action: 'approve', approved_by: 'boss' },
      token: owner,
    });
    expect(spoof.status).toBe(403);
    expect((await t.call('GET', `/hitl/approvals/${approvalId}`)).json.status).toBe('pending');
  });

  it('may decide by role (reviewer, admin) and read those runs; others may not read them', async () => {
    const { id, approvalId } = await atPayloadReview();
    const byRole = await reviewerToken('rita', ['reviewer']);
    expect((await t.call('GET', `/hitl/runs/${id}`, { token: byRole })).status).toBe(200);
    const stranger = await reviewerToken('mallory', ['viewer']);
    for (const path of [
      `/hitl/runs/${id}`,
      `/hitl/runs/${id}/events`,
      `/hitl/run/${id}/status`,
      `/hitl/runs/${id}/verify`,
    ]) {
      expect((await t.call('GET', path, { token: stranger })).status, path).toBe(403);
    }
    const admin = await reviewerToken('root', ['admin']);
    expect(
      (
        await t.call('POST', `/hitl/approvals/${approvalId}/respond`, {
          body: { approved: true },
          token: admin,
        })
      ).status,
    ).toBe(200);
  });

  it('read runs whose user_id is their sub, and list only what they may read', async () => {
    const mine = await createEchoRun(
      t,
      { reviewers: { user_ids: ['x'], roles: ['nobody'] } },
      { user_id: 'ursula' },
    );
    await createEchoRun(t, { reviewers: { user_ids: ['x'], roles: ['nobody'] } }, { user_id: 'other' });
    const token = await reviewerToken('ursula', []);
    expect((await t.call('GET', `/hitl/runs/${mine}`, { token })).status).toBe(200);
    const list = await t.call('GET', '/hitl/runs?limit=200', { token });
    const ids = (list.json.runs as Array<{ run_id: string; original_input: { user_id: string } }>).map(
      (r) => r.original_input.user_id,
    );
    expect(ids.length).toBeGreaterThan(0);
    expect(new Set(ids)).toEqual(new Set(['ursula']));
  });

  it('see only pending approvals they may decide', async () => {
    await atPayloadReview(
      { ...PAYLOAD_ONLY, reviewers: { user_ids: ['pat'], roles: [] } },
      { user_id: 'pat-user' },
    );
    await atPayloadReview(
      { ...PAYLOAD_ONLY, reviewers: { user_ids: ['quinn'], roles: [] } },
      { user_id: 'q-user' },
    );
    const pat = await t.call('GET', '/hitl/approvals/pending', { token: await reviewerToken('pat', []) });
    expect(pat.json.total).toBe(1);
    expect((pat.json.approvals as Array<{ user_id: string }>)[0]?.user_id).toBe('pat-user');
    const all = await t.call('GET', '/hitl/approvals/pending?user_id=q-user');
    expect(all.json.total).toBe(1);
  });

  it('may never create runs or approvals, nor pause, resume or cancel (403)', async () => {
    const { id, approvalId } = await atPayloadReview();
    const token = await reviewerToken('u1', ['admin']);
    const calls: Array<[string, string, unknown]> = [
      ['POST', '/hitl/run', { run_input: echoInput() }],
      ['POST', '/teams/run', echoInput()],
      ['POST', '/teams/run-hitl', { run_input: echoInput() }],
      ['POST', '/hitl/approvals', { action_description: 'buy' }],
      ['POST', `/hitl/run/${id}/pause`, undefined],
      ['POST', `/hitl/run/${id}/resume`, undefined],
      ['DELETE', `/hitl/run/${id}`, undefined],
      ['DELETE', `/hitl/approvals/${approvalId}`, undefined],
    ];
    for (const [method, path, body] of calls) {
      const res = await t.call(method, path, { token, ...(body !== undefined ? { body } : {}) });
      expect([res.status, codeOf(res.json)], `${method} ${path}`).toEqual([403, 'forbidden']);
    }
  });
});
