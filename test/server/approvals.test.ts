import { describe, expect, it } from 'vitest';
import { codeOf, createEchoRun, reviewerToken, SERVICE_ACTOR, type TestApp, withTestApp } from './support.ts';

let t: TestApp;
withTestApp((app) => {
  t = app;
});

const BUY = {
  checkpoint_type: 'browser_action_approval',
  action_description: 'Click "Buy" on example.com',
  context: { url: 'https://example.com/cart', total: 42 },
  user_id: 'shopper',
  session_id: 'browser-1',
};

async function create(extra: Record<string, unknown> = {}) {
  const res = await t.call('POST', '/hitl/approvals', { body: { ...BUY, ...extra } });
  if (res.status !== 201) throw new Error(`${res.status} ${res.text}`);
  return res.json;
}

describe('standalone approvals (SPEC §6)', () => {
  it('POST /hitl/approvals answers 201 with the approval in its one shape', async () => {
    const a = await create();
    expect(a).toMatchObject({
      approval_token: a.approval_id,
      run_id: null,
      checkpoint_type: 'browser_action_approval',
      context: { action_description: BUY.action_description, url: 'https://example.com/cart', total: 42 },
      actions: ['approve', 'reject'],
      user_id: 'shopper',
      session_id: 'browser-1',
      reviewers: { user_ids: ['shopper'], roles: ['reviewer'] },
      status: 'pending',
      decision: null,
    });
    const seconds = (Date.parse(String(a.expires_at)) - Date.parse(String(a.created_at))) / 1000;
    expect(seconds).toBe(3600);
    expect((await t.call('GET', `/hitl/approvals/${String(a.approval_id)}`)).json).toEqual(a);
  });

  it('validates the body: description required, no retry action, run_id must exist', async () => {
    const missing = await t.call('POST', '/hitl/approvals', { body: { context: {} } });
    expect(missing.status).toBe(422);
    expect((missing.json.error as { details: { fields: string[] } }).details.fields).toContain(
      'action_description',
    );
    const retry = await t.call('POST', '/hitl/approvals', { body: { ...BUY, actions: ['retry'] } });
    expect(retry.status).toBe(422);
    const wrongType = await t.call('POST', '/hitl/approvals', {
      body: { ...BUY, checkpoint_type: 'payload_review' },
    });
    expect(wrongType.status).toBe(422);
    const noRun = await t.call('POST', '/hitl/approvals', {
      body: { ...BUY, run_id: '00000000-0000-4000-8000-000000000001' },
    });
    expect([noRun.status, codeOf(noRun.json)]).toEqual([404, 'run_not_found']);
    const runId = await createEchoRun(t);
    expect((await create({ run_id: runId })).run_id).toBe(runId);
  });

  it('GET ?wait= long-polls until a reviewer decides, and an edit carries its edits back', async () => {
    const a = await create({ actions: ['approve', 'reject', 'edit'], reviewers: { user_ids: ['rev'] } });
    const id = String(a.approval_id);
    const waiting = t.call('GET', `/hitl/approvals/${id}?wait=10`);
    await new Promise((r) => setTimeout(r, 100));
    const token = await reviewerToken('rev', []);
    const decided = await t.call('POST', `/hitl/approvals/${id}/respond`, {
      body: { action: 'edit', edits: { quantity: 1 }, reason: 'one is enough' },
      token,
    });
    expect(decided.json).toMatchObject({
      success: true,
      approval_id: id,
      action: 'edit',
      status: 'edited',
      run_id: null,
    });
    const res = await waiting;
    expect(res.json).toMatchObject({
      status: 'edited',
      actions: [],
      decision: { action: 'edit', edits: { quantity: 1 }, reason: 'one is enough', actor: 'user:rev' },
    });
  });

  it('GET ?wait= answers at once for a decided approval, and with the pending one on timeout', async () => {
    const a = await create();
    const id = String(a.approval_id);
    const started = Date.now();
    const pending = await t.call('GET', `/hitl/approvals/${id}?wait=0.2`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(pending.json.status).toBe('pending');
    await t.call('POST', `/hitl/approvals/${id}/respond`, { body: { approved: false, approved_by: 'ops' } });
    const done = await t.call('GET', `/hitl/approvals/${id}?wait=10`);
    expect(done.json).toMatchObject({
      status: 'rejected',
      decision: { on_behalf_of: 'ops', actor: SERVICE_ACTOR },
    });
  });

  it('expires durably when its deadline passes', async () => {
    const a = await create({ timeout_seconds: 1 });
    const res = await t.call('GET', `/hitl/approvals/${String(a.approval_id)}?wait=5`);
    expect(res.json).toMatchObject({
      status: 'expired',
      decision: { action: 'expired', actor: 'system:timeout' },
    });
    const pending = await t.call('GET', '/hitl/approvals/pending?user_id=shopper');
    expect(
      (pending.json.approvals as Array<{ approval_id: string }>).map((x) => x.approval_id),
    ).not.toContain(a.approval_id);
  });

  it('refuses a second decision (409) and an action it does not offer (422)', async () => {
    const a = await create();
    const id = String(a.approval_id);
    const edit = await t.call('POST', `/hitl/approvals/${id}/respond`, {
      body: { action: 'edit', edits: { x: 1 } },
    });
    expect([edit.status, codeOf(edit.json)]).toEqual([422, 'invalid_action']);
    const retry = await t.call('POST', `/hitl/approvals/${id}/respond`, { body: { action: 'retry' } });
    expect([retry.status, codeOf(retry.json)]).toEqual([422, 'invalid_action']);
    expect(
      (await t.call('POST', `/hitl/approvals/${id}/respond`, { body: { action: 'approve' } })).status,
    ).toBe(200);
    const again = await t.call('POST', `/hitl/approvals/${id}/respond`, { body: { action: 'reject' } });
    expect([again.status, codeOf(again.json)]).toEqual([409, 'approval_not_pending']);
    const missing = await t.call('POST', `/hitl/approvals/${id}/respond`, { body: {} });
    expect(missing.status).toBe(422);
  });

  it('DELETE cancels a pending one (services only); a second cancel is 409', async () => {
    const a = await create();
    const id = String(a.approval_id);
    const waiting = t.call('GET', `/hitl/approvals/${id}?wait=10`);
    const reviewer = await t.call('DELETE', `/hitl/approvals/${id}`, {
      token: await reviewerToken('shopper', []),
    });
    expect(reviewer.status).toBe(403);
    const res = await t.call('DELETE', `/hitl/approvals/${id}`, { body: { reason: 'page closed' } });
    expect(res.json).toMatchObject({ success: true, approval_id: id, status: 'cancelled', run_id: null });
    expect((await waiting).json.status).toBe('cancelled');
    const again = await t.call('DELETE', `/hitl/approvals/${id}`);
    expect([again.status, codeOf(again.json)]).toEqual([409, 'approval_not_pending']);
  });

  it('reviewers see and decide only approvals they may decide', async () => {
    const a = await create({ reviewers: { user_ids: ['only-me'], roles: [] } });
    const id = String(a.approval_id);
    const other = await reviewerToken('someone', ['reviewer']);
    expect((await t.call('GET', `/hitl/approvals/${id}`, { token: other })).status).toBe(403);
    expect(
      (await t.call('POST', `/hitl/approvals/${id}/respond`, { body: { action: 'approve' }, token: other }))
        .status,
    ).toBe(403);
    const enduser = await reviewerToken('shopper', []);
    expect((await t.call('GET', `/hitl/approvals/${id}`, { token: enduser })).status).toBe(200);
    const me = await reviewerToken('only-me', []);
    const list = await t.call('GET', '/hitl/approvals/pending', { token: me });
    expect((list.json.approvals as Array<{ approval_id: string }>).map((x) => x.approval_id)).toEqual([id]);
  });

  it('pages the pending list', async () => {
    for (let i = 0; i < 3; i++) await create({ session_id: 'paging' });
    const first = await t.call('GET', '/hitl/approvals/pending?session_id=paging&limit=2');
    expect(first.json.total).toBe(3);
    expect(first.json.approvals).toHaveLength(2);
    const second = await t.call(
      'GET',
      `/hitl/approvals/pending?session_id=paging&limit=2&cursor=${String(first.json.next_cursor)}`,
    );
    expect(second.json.approvals).toHaveLength(1);
    expect(second.json.next_cursor).toBeNull();
  });

  it('replays a creation with the same Idempotency-Key', async () => {
    const headers = { 'idempotency-key': 'approval-1' };
    const a = await t.call('POST', '/hitl/approvals', { body: BUY, headers });
    const b = await t.call('POST', '/hitl/approvals', { body: BUY, headers });
    expect(b.json.approval_id).toBe(a.json.approval_id);
    expect(b.headers.get('idempotent-replayed')).toBe('true');
  });
});

describe('POST /hitl/websocket/message', () => {
  it('answers WebSocket frames over HTTP with their reply frame', async () => {
    const ping = await t.call('POST', '/hitl/websocket/message', {
      body: { type: 'ping', request_id: 'r1' },
    });
    expect(ping.json).toMatchObject({ type: 'pong', request_id: 'r1' });
    const a = await create({ session_id: 'relay' });
    const list = await t.call('POST', '/hitl/websocket/message', {
      body: { type: 'hitl_list_pending', data: {} },
    });
    expect(list.json.type).toBe('hitl_pending_approvals');
    const ack = await t.call('POST', '/hitl/websocket/message', {
      body: {
        type: 'hitl_approval_response',
        data: { approval_id: a.approval_id, action: 'approve' },
        request_id: 7,
      },
    });
    expect(ack.json).toMatchObject({
      type: 'hitl_approval_response_ack',
      request_id: 7,
      data: { success: true },
    });
    const unknown = await t.call('POST', '/hitl/websocket/message', { body: { type: 'dance' } });
    expect(unknown.json).toMatchObject({
      type: 'error',
      data: { code: 'invalid_request', message: 'Unknown message type: dance' },
    });
    const broken = await t.call('POST', '/hitl/websocket/message', { body: '{"type":' });
    expect([broken.status, codeOf(broken.json)]).toEqual([400, 'invalid_json']);
    expect(
      (await t.call('POST', '/hitl/websocket/message', { body: { type: 'ping' }, token: null })).status,
    ).toBe(401);
  });
});
