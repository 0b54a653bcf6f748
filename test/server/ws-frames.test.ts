import { describe, expect, it } from 'vitest';
import { createFrameHandler } from '../../server/ws/frames.ts';
import {
  type Client,
  connect,
  type Frame,
  SERVICE_KEY,
  type TestNode,
  withThreeClients,
} from './ws-harness.ts';

const isRequestFor = (runId: string) => (f: Frame) =>
  f.type === 'hitl_approval_request' && f.data['run_id'] === runId;

describe('WebSocket request frames', () => {
  let node: TestNode;
  let service: Client;
  let bob: Client;
  let carol: Client;

  withThreeClients((c) => {
    ({ node, service, bob, carol } = c);
  });

  it('lists the pending approvals the principal may decide, filtered by run_id and user_id', async () => {
    const a = (await node.createRun()).snapshot.context.run_id;
    const b = (await node.createRun({ reviewers: { user_ids: ['bob'], roles: [] } })).snapshot.context.run_id;
    await service.next(isRequestFor(a));
    await service.next(isRequestFor(b));
    const ids = (f: Frame) => (f.data['approvals'] as { run_id: string }[]).map((x) => x.run_id);

    const all = await service.request('hitl_list_pending', { run_id: a });
    expect(all.type).toBe('hitl_pending_approvals');
    expect(ids(all)).toEqual([a]);
    expect(ids(await bob.request('hitl_list_pending', { run_id: a }))).toEqual([]);
    expect(ids(await bob.request('hitl_list_pending', { run_id: b }))).toEqual([b]);
    const bobs = ids(await bob.request('hitl_list_pending', { user_id: 'u1', limit: 200 }));
    expect(bobs).toContain(b);
    expect(bobs).not.toContain(a);
    expect(ids(await carol.request('hitl_list_pending', { user_id: 'nobody' }))).toEqual([]);
  });

  it('lets services cancel an approval (its run is cancelled); reviewers get forbidden', async () => {
    const runId = (await node.createRun()).snapshot.context.run_id;
    const approvalId = (await carol.next(isRequestFor(runId))).data['approval_id'] as string;
    const refused = await carol.request('hitl_cancel_approval', { approval_id: approvalId });
    expect(refused).toMatchObject({
      type: 'hitl_cancel_approval_ack',
      data: { success: false, approval_id: approvalId, error: { code: 'forbidden' } },
    });
    const ack = await service.request('hitl_cancel_approval', {
      approval_id: approvalId,
      reason: 'not needed',
    });
    expect(ack.data).toMatchObject({ success: true, approval_id: approvalId, status: 'cancelled' });
    expect((await node.host.mustRead(runId)).snapshot.context.run_id).toBe(runId);
    expect(node.host.status(await node.host.mustRead(runId)).status).toBe('cancelled');
    const resolved = await carol.next(
      (f) => f.type === 'hitl_approval_resolved' && f.data['approval_id'] === approvalId,
    );
    expect(resolved.data['action']).toBe('cancelled');
    const again = await service.request('hitl_cancel_approval', { approval_id: approvalId });
    expect(again.data).toMatchObject({ success: false, error: { code: 'approval_not_pending' } });
  });

  it('answers an unknown type, broken JSON and schema errors with an error frame and stays open', async () => {
    const c = await connect(node.url, SERVICE_KEY);
    expect(await c.request('launch_rockets', { now: true })).toEqual({
      type: 'error',
      data: { code: 'invalid_request', message: 'Unknown message type: launch_rockets' },
      request_id: 'r1',
    });
    c.send('{"type": "ping", ');
    expect(
      (await c.next((f) => f.type === 'error' && f.data['code'] === 'invalid_json')).data['message'],
    ).toBeTruthy();
    c.send({ data: {}, request_id: 'no-type' });
    expect(await c.next((f) => f.request_id === 'no-type')).toMatchObject({
      type: 'error',
      data: { code: 'invalid_request' },
    });
    const bad = await c.request('hitl_approval_response', { action: 'approve' });
    expect(bad).toMatchObject({ type: 'error', data: { code: 'invalid_request' } });
    expect(String(bad.data['message'])).toContain('approval_id');
    expect((await c.request('subscribe', { run_id: 'x', session_id: 'y' })).data['code']).toBe(
      'invalid_request',
    );
    expect((await c.request('ping')).type).toBe('pong');
    c.close();
  });

  it('answers a 2 MiB frame with an error frame and stays open; a 5 MiB frame closes with 1009', async () => {
    const c = await connect(node.url, SERVICE_KEY);
    c.send({ type: 'ping', data: { pad: 'x'.repeat(2 * 1024 * 1024) }, request_id: 'big' });
    expect((await c.next((f) => f.type === 'error')).data['code']).toBe('payload_too_large');
    expect((await c.request('ping')).type).toBe('pong');
    c.send({ type: 'ping', data: { pad: 'x'.repeat(5 * 1024 * 1024) } });
    expect((await c.closed).code).toBe(1009);
  });

  it('answers the same frames without a socket (what POST /hitl/websocket/message calls)', async () => {
    const handler = createFrameHandler({ host: node.host, approvals: node.approvals });
    const principal = { kind: 'service', keyId: 'abc', actor: 'service:abc' } as const;
    expect(await handler.handle({ type: 'ping', request_id: 7 }, principal)).toMatchObject({
      type: 'pong',
      request_id: 7,
    });
    expect(await handler.handle('not a frame', principal)).toMatchObject({
      type: 'error',
      data: { code: 'invalid_request' },
    });
    expect(await handler.handle({ type: 'subscribe', data: { session_id: 's1' } }, principal)).toMatchObject({
      type: 'error',
      data: { code: 'invalid_request' },
    });
    expect(await handler.handle({ type: 'nope', request_id: 'x' }, principal)).toEqual({
      type: 'error',
      data: { code: 'invalid_request', message: 'Unknown message type: nope' },
      request_id: 'x',
    });
    const pending = await handler.handle({ type: 'hitl_list_pending', data: { cursor: 'bogus' } }, principal);
    expect(pending).toMatchObject({ type: 'error', data: { code: 'invalid_request' } });
  });
});
