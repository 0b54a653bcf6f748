import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  awaitEnd,
  awaitHuman,
  createEchoRun,
  reviewerToken as httpToken,
  type TestApp,
  withTestApp,
} from '../server/support.ts';
import { connect, reviewerToken, startNode, type TestNode } from '../server/ws-harness.ts';

/** SPEC §7: a reviewer reads exactly the runs the list endpoints show it. */

let t: TestApp;
withTestApp((app) => {
  t = app;
});

describe('reviewer read scope over HTTP', () => {
  it('an automatic run that never opened an approval is not readable by a reviewer role, and not listed', async () => {
    const auto = await createEchoRun(t, { policy: 'auto' }, { user_id: 'owner-a', session_id: 'sa' });
    expect((await awaitEnd(t, auto)).status).toBe('completed');
    const held = await createEchoRun(
      t,
      { policy: 'require_human', allowed_steps: ['payload_review'] },
      { user_id: 'owner-a', session_id: 'sa' },
    );
    await awaitHuman(t, held);
    const rita = await httpToken('rita', ['reviewer']);
    for (const path of [
      `/hitl/runs/${auto}`,
      `/hitl/run/${auto}/status`,
      `/hitl/runs/${auto}/events`,
      `/hitl/runs/${auto}/verify`,
    ]) {
      expect((await t.call('GET', path, { token: rita })).status, path).toBe(403);
    }
    const sse = await t.call('GET', `/hitl/runs/${auto}/events`, {
      token: rita,
      headers: { accept: 'text/event-stream' },
    });
    expect(sse.status).toBe(403);
    // The run with an approval it may decide: readable, and listed; the automatic one is in neither.
    expect((await t.call('GET', `/hitl/runs/${held}`, { token: rita })).status).toBe(200);
    const listed = await t.call('GET', '/hitl/runs?user_id=owner-a', { token: rita });
    const ids = (listed.json.runs as Array<{ run_id: string }>).map((r) => r.run_id);
    expect(ids).toContain(held);
    expect(ids).not.toContain(auto);
    // Its own user and an admin still read it.
    expect(
      (await t.call('GET', `/hitl/runs/${auto}`, { token: await httpToken('owner-a', []) })).status,
    ).toBe(200);
    expect(
      (await t.call('GET', `/hitl/runs/${auto}`, { token: await httpToken('boss', ['admin']) })).status,
    ).toBe(200);
  });
});

describe('reviewer read scope over the WebSocket', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startNode();
  });
  afterAll(async () => {
    await node?.close();
  });

  it('subscribing to a run without approvals is forbidden; session pushes skip it', async () => {
    const reviewer = await connect(node.url, await reviewerToken('rita', ['reviewer']));
    await reviewer.request('subscribe', { session_id: 's1' });
    const auto = (await node.createRun({ policy: 'auto' })).snapshot.context.run_id;
    const held = (await node.createRun({ policy: 'require_human', allowed_steps: ['payload_review'] }))
      .snapshot.context.run_id;
    // The held run's updates arrive (it opened an approval rita may decide)...
    await reviewer.next((f) => f.type === 'hitl_approval_request' && f.data['run_id'] === held);
    const sub = await reviewer.request('subscribe', { run_id: auto, after_seq: 0 });
    expect(sub.type).toBe('error');
    expect(sub.data['code']).toBe('forbidden');
    await reviewer.settle();
    // ...the automatic run's never did.
    expect(reviewer.frames.some((f) => f.data['run_id'] === auto)).toBe(false);
    reviewer.close();
  });
});
