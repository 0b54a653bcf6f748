import { sign } from 'hono/jwt';
import { describe, expect, it } from 'vitest';
import { keyId } from '../../server/auth/auth.ts';
import {
  type Client,
  connect,
  type Frame,
  JWT_SECRET,
  reviewerToken,
  SERVICE_KEY,
  startNode,
  type TestNode,
  upgradeStatus,
  withThreeClients,
} from './ws-harness.ts';

const isRequestFor = (runId: string) => (f: Frame) =>
  f.type === 'hitl_approval_request' && f.data['run_id'] === runId;
const requestRuns = (c: Client) =>
  c.frames.filter((f) => f.type === 'hitl_approval_request').map((f) => f.data['run_id']);

describe('WebSocket /ws', () => {
  let node: TestNode;
  let service: Client;
  let bob: Client;
  let carol: Client;

  withThreeClients((c) => {
    ({ node, service, bob, carol } = c);
  });

  it('refuses the upgrade with 401 without a token, with a bad one or with an expired JWT', async () => {
    const expired = await sign(
      { sub: 'bob', roles: [], exp: Math.floor(Date.now() / 1000) - 10 },
      JWT_SECRET,
      'HS256',
    );
    expect(await upgradeStatus(node.url)).toBe(401);
    expect(await upgradeStatus(node.url, { authorization: 'Bearer not-a-key' })).toBe(401);
    expect(await upgradeStatus(`${node.url}?token=not-a-key`)).toBe(401);
    expect(await upgradeStatus(node.url, { authorization: `Bearer ${expired}` })).toBe(401);
    expect(
      await upgradeStatus(node.url.replace('/ws', '/elsewhere'), { authorization: `Bearer ${SERVICE_KEY}` }),
    ).toBe(404);
  });

  it('pushes nothing on connect and answers ping with pong and the same request_id', async () => {
    const c = await connect(node.url, SERVICE_KEY);
    const pong = await c.request('ping');
    expect(pong).toMatchObject({ type: 'pong', request_id: 'r1' });
    expect(c.frames).toEqual([pong]);
    c.close();
  });

  it('sends hitl_approval_request to the sockets that may decide it; services get every request', async () => {
    const a = await node.createRun();
    const b = await node.createRun({ reviewers: { user_ids: ['bob'], roles: [] } });
    const runA = a.snapshot.context.run_id;
    const runB = b.snapshot.context.run_id;
    const reqA = await service.next(isRequestFor(runA));
    await service.next(isRequestFor(runB));
    await Promise.all([bob.settle(), carol.settle()]);
    expect(requestRuns(bob)).toEqual([runB]);
    expect(requestRuns(carol)).toEqual([runA]);
    expect(reqA.data).toMatchObject({
      checkpoint_type: 'information_review',
      status: 'pending',
      user_id: 'u1',
      session_id: 's1',
      reviewers: { user_ids: ['u1'], roles: ['reviewer'] },
    });
    expect(reqA.data['approval_token']).toBe(reqA.data['approval_id']);
  });

  it('decides over the socket: ack, the run moves on, resolved reaches the others, a second decision is refused', async () => {
    const runId = (await node.createRun()).snapshot.context.run_id;
    const req = await carol.next(isRequestFor(runId));
    const approvalId = req.data['approval_id'] as string;

    const forbidden = await bob.request('hitl_approval_response', {
      approval_id: approvalId,
      action: 'approve',
    });
    expect(forbidden.data).toMatchObject({
      success: false,
      approval_id: approvalId,
      error: { code: 'forbidden' },
    });
    const impersonating = await carol.request('hitl_approval_response', {
      approval_id: approvalId,
      action: 'approve',
      approved_by: 'mallory',
    });
    expect(impersonating.data).toMatchObject({ success: false, error: { code: 'forbidden' } });
    const notAllowed = await carol.request('hitl_approval_response', {
      approval_id: approvalId,
      action: 'retry',
    });
    expect(notAllowed.data).toMatchObject({ success: false, error: { code: 'invalid_action' } });

    const ack = await carol.request('hitl_approval_response', {
      approval_id: approvalId,
      action: 'approve',
      approved_by: 'carol',
      reason: 'looks fine',
      timestamp: '1999-01-01T00:00:00.000Z',
    });
    expect(ack).toMatchObject({
      type: 'hitl_approval_response_ack',
      data: {
        success: true,
        approval_id: approvalId,
        action: 'approve',
        run_id: runId,
        current_step: 'payload_review',
      },
    });
    const resolved = await service.next(
      (f) => f.type === 'hitl_approval_resolved' && f.data['approval_id'] === approvalId,
    );
    expect(resolved.data).toEqual({
      approval_id: approvalId,
      run_id: runId,
      action: 'approve',
      actor: 'user:carol',
    });
    await carol.next((f) => f.type === 'hitl_approval_resolved' && f.data['approval_id'] === approvalId);
    const nextReq = await carol.next((f) => isRequestFor(runId)(f) && f.data['approval_id'] !== approvalId);
    expect(nextReq.data['checkpoint_type']).toBe('payload_review');

    const stored = await node.approvals.get(approvalId);
    expect(stored?.approval.decision).toMatchObject({
      action: 'approve',
      actor: 'user:carol',
      reason: 'looks fine',
      client_timestamp: '1999-01-01T00:00:00.000Z',
    });
    expect(stored?.approval.decision?.decided_at).not.toBe('1999-01-01T00:00:00.000Z');

    const again = await service.request('hitl_approval_response', {
      approval_id: approvalId,
      action: 'reject',
    });
    expect(again.data).toMatchObject({
      success: false,
      approval_id: approvalId,
      error: { code: 'approval_not_pending' },
    });
    const missing = await service.request('hitl_approval_response', {
      approval_id: '00000000-0000-4000-8000-000000000000',
      approved: true,
    });
    expect(missing.data).toMatchObject({ success: false, error: { code: 'approval_not_found' } });
  });

  it("keeps a service's approved_by as on_behalf_of, with the service as the actor", async () => {
    const runId = (await node.createRun()).snapshot.context.run_id;
    const approvalId = (await service.next(isRequestFor(runId))).data['approval_id'] as string;
    const ack = await service.request('hitl_approval_response', {
      approval_token: approvalId,
      approved: true,
      approved_by: 'alice',
    });
    expect(ack.data).toMatchObject({ success: true, action: 'approve' });
    const stored = await node.approvals.get(approvalId);
    expect(stored?.approval.decision).toMatchObject({
      actor: `service:${keyId(SERVICE_KEY)}`,
      on_behalf_of: 'alice',
    });
  });

  it('delivers standalone approvals to their deciders and their resolution to the creating key', async () => {
    const approval = await node.approvals.create(
      {
        checkpoint_type: 'browser_action_approval',
        action_description: 'Click Buy',
        context: { url: 'https://shop.example/cart' },
        user_id: 'u9',
        session_id: null,
        run_id: null,
        reviewers: { user_ids: ['bob'], roles: [] },
        actions: ['approve', 'edit', 'reject'],
        timeout_seconds: 600,
      },
      `service:${keyId(SERVICE_KEY)}`,
    );
    const req = await bob.next(
      (f) => f.type === 'hitl_approval_request' && f.data['approval_id'] === approval.approval_id,
    );
    expect(req.data).toMatchObject({ checkpoint_type: 'browser_action_approval', run_id: null });
    const ack = await bob.request('hitl_approval_response', {
      approval_id: approval.approval_id,
      action: 'edit',
      edits: { quantity: 1 },
    });
    expect(ack.data).toMatchObject({ success: true, status: 'edited' });
    const resolved = await service.next(
      (f) => f.type === 'hitl_approval_resolved' && f.data['approval_id'] === approval.approval_id,
    );
    expect(resolved.data).toEqual({
      approval_id: approval.approval_id,
      run_id: null,
      action: 'edit',
      actor: 'user:bob',
    });
    await carol.settle();
    expect(carol.frames.some((f) => f.data['approval_id'] === approval.approval_id)).toBe(false);
  });
});

describe('WebSocket node lifecycle', () => {
  it('rate-limits failed upgrade authentications per address (429), also for valid tokens then', async () => {
    const node = await startNode({ authFailuresPerMinute: 3 });
    for (let i = 0; i < 3; i++) expect(await upgradeStatus(`${node.url}?token=wrong-${i}`)).toBe(401);
    expect(await upgradeStatus(`${node.url}?token=wrong`)).toBe(429);
    expect(
      await upgradeStatus(node.url, { authorization: `Bearer ${SERVICE_KEY}` }).catch(() => 'accepted'),
    ).toBe(429);
    await node.close();
  });

  it('closes every socket with 1001 and counts open sockets', async () => {
    const node = await startNode();
    const a = await connect(node.url, SERVICE_KEY);
    const b = await connect(node.url, await reviewerToken('bob', []));
    expect(node.hub.count()).toBe(2);
    const closing = node.close();
    expect((await a.closed).code).toBe(1001);
    expect((await b.closed).code).toBe(1001);
    await closing;
    expect(node.hub.count()).toBe(0);
  });
});
