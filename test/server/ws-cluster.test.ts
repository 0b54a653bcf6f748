import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRedisBus } from '../../persistence/redis.ts';
import type { Bus } from '../../persistence/types.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { clearRedisPrefix, describeWithRedis } from '../support/redis.ts';
import { connect, type Frame, reviewerToken, SERVICE_KEY, startNode, type TestNode } from './ws-harness.ts';

describeWithRedis('WebSocket across two nodes (one database, a Redis bus)', (redis) => {
  let db: TestDatabase;
  let a: TestNode;
  let b: TestNode;
  const buses: Bus[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    for (let i = 0; i < 2; i++) buses.push(createRedisBus(redis.url, { prefix: redis.prefix }));
    a = await startNode({ db, bus: buses[0], node: 'node-a' });
    b = await startNode({ db, bus: buses[1], node: 'node-b' });
    // Let both subscriptions reach Redis before anything is published.
    await new Promise((r) => setTimeout(r, 300));
  });
  afterAll(async () => {
    await b?.close(false);
    await a?.close(false);
    for (const bus of buses) await bus.close();
    await db?.drop();
    await clearRedisPrefix(redis);
  });

  it('a socket on node B gets the approval request of a run created on node A, and can decide it', async () => {
    const service = await connect(b.url, SERVICE_KEY);
    const reviewer = await connect(b.url, await reviewerToken('u1', []));
    await service.request('subscribe', { session_id: 's1' });
    const runId = (await a.createRun()).snapshot.context.run_id;
    const isRequest = (f: Frame) => f.type === 'hitl_approval_request' && f.data['run_id'] === runId;
    const request = await reviewer.next(isRequest);
    await service.next(isRequest);
    expect(request.data).toMatchObject({ checkpoint_type: 'information_review', status: 'pending' });

    const ack = await reviewer.request('hitl_approval_response', {
      approval_id: request.data['approval_id'],
      action: 'approve',
    });
    expect(ack.data).toMatchObject({ success: true, current_step: 'payload_review' });
    // The run waits again (payload_review); its log is read from the record, not a node's cache.
    await reviewer.next((f) => isRequest(f) && f.data['checkpoint_type'] === 'payload_review');
    const seq = (await a.host.listEvents(runId, 0, 100)).length;
    const onA = await connect(a.url, SERVICE_KEY);
    await onA.request('subscribe', { run_id: runId, after_seq: 0 });
    await onA.next((f) => f.type === 'hitl_status_update' && f.data['seq'] === seq);
    // Node B's session subscriber saw the whole log of the run written on node A, once each.
    await service.next(
      (f) => f.type === 'hitl_status_update' && f.data['run_id'] === runId && f.data['seq'] === seq,
    );
    const seqs = service.frames
      .filter((f) => f.type === 'hitl_status_update' && f.data['run_id'] === runId)
      .map((f) => f.data['seq']);
    expect(seqs).toEqual(Array.from({ length: seq }, (_, i) => i + 1));
    for (const c of [service, reviewer, onA]) c.close();
  });
});
