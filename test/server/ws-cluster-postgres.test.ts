import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { postgresBuses } from '../support/postgres-buses.ts';
import { connect, type Frame, reviewerToken, SERVICE_KEY, startNode, type TestNode } from './ws-harness.ts';

describe('WebSocket across two nodes on one Postgres, without Redis (LISTEN/NOTIFY)', () => {
  let db: TestDatabase;
  let a: TestNode;
  let b: TestNode;
  let pg: ReturnType<typeof postgresBuses>;

  beforeAll(async () => {
    db = await createTestDatabase();
    pg = postgresBuses(db.url);
    a = await startNode({ db, bus: pg.buses[0], node: 'node-a' });
    b = await startNode({ db, bus: pg.buses[1], node: 'node-b' });
    // Both nodes listen before anything is published (LISTEN is not retroactive).
    await pg.listening();
  });
  afterAll(async () => {
    await b?.close(false);
    await a?.close(false);
    await pg?.close();
    await db?.drop();
  });

  it('a reviewer socket on node B gets the approval request of a run created on node A, and decides it', async () => {
    const reviewer = await connect(b.url, await reviewerToken('u1', []));
    const service = await connect(b.url, SERVICE_KEY);
    await service.request('subscribe', { session_id: 's1' });
    const runId = (await a.createRun()).snapshot.context.run_id;
    const isRequest = (f: Frame) => f.type === 'hitl_approval_request' && f.data['run_id'] === runId;
    const request = await reviewer.next(isRequest);
    expect(request.data).toMatchObject({ checkpoint_type: 'information_review', status: 'pending' });
    const ack = await reviewer.request('hitl_approval_response', {
      approval_id: request.data['approval_id'],
      action: 'approve',
    });
    expect(ack.data).toMatchObject({ success: true, current_step: 'payload_review' });
    await reviewer.next((f) => isRequest(f) && f.data['checkpoint_type'] === 'payload_review');
    // Node B's session subscriber saw the run's whole log, written on both nodes, once each.
    const seq = (await a.host.listEvents(runId, 0, 100)).length;
    await service.next(
      (f) => f.type === 'hitl_status_update' && f.data['run_id'] === runId && f.data['seq'] === seq,
    );
    const seqs = service.frames
      .filter((f) => f.type === 'hitl_status_update' && f.data['run_id'] === runId)
      .map((f) => f.data['seq']);
    expect(seqs).toEqual(Array.from({ length: seq }, (_, i) => i + 1));
    reviewer.close();
    service.close();
  });
});
