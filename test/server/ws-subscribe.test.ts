import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coreOf } from '../../actors/run-host.ts';
import {
  type Client,
  connect,
  type Frame,
  reviewerToken,
  SERVICE_KEY,
  startNode,
  type TestNode,
} from './ws-harness.ts';

const updatesOf = (c: Client, runId: string) =>
  c.frames
    .filter((f) => f.type === 'hitl_status_update' && f.data['run_id'] === runId)
    .map((f) => f.data['seq'] as number);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const isUpdate = (runId: string, seq: number) => (f: Frame) =>
  f.type === 'hitl_status_update' && f.data['run_id'] === runId && f.data['seq'] === seq;

describe('WebSocket subscriptions', () => {
  let node: TestNode;

  beforeAll(async () => {
    // Small pages, so a catch-up spans several reads.
    node = await startNode({ pageSize: 7 });
  });
  afterAll(async () => {
    await node.close();
  });

  /** A run of u1 waiting at information_review (its log has 4 rows then). */
  async function awaitingRun(): Promise<string> {
    const watcher = await connect(node.url, SERVICE_KEY);
    const runId = (await node.createRun()).snapshot.context.run_id;
    await watcher.next((f) => f.type === 'hitl_approval_request' && f.data['run_id'] === runId);
    watcher.close();
    return runId;
  }

  /** Append a harmless event (`run.recovered` changes nothing but the log). */
  function write(runId: string) {
    return coreOf(node.host).apply(runId, (_run, stamp) => ({
      type: 'run.recovered',
      ...stamp('system'),
      node: 'test',
    }));
  }

  it('catches up after after_seq then goes live: every event exactly once, in order, while events are written', async () => {
    const runId = await awaitingRun();
    const early = (await node.host.mustRead(runId)).seq;
    const writes = (async () => {
      for (let i = 0; i < 150; i++) await write(runId);
    })();
    const clients: { c: Client; after: number }[] = [];
    for (const after of [0, 2, early]) {
      const c = await connect(node.url, SERVICE_KEY);
      const reply = await c.request('subscribe', { run_id: runId, after_seq: after });
      expect(reply).toMatchObject({ type: 'subscribed', data: { run_id: runId, after_seq: after } });
      clients.push({ c, after });
      await new Promise((r) => setTimeout(r, 15));
    }
    // One more that subscribes mid-stream from wherever the log is now.
    const now = (await node.host.mustRead(runId)).seq;
    const late = await connect(node.url, await reviewerToken('u1', []));
    await late.request('subscribe', { run_id: runId, after_seq: now });
    clients.push({ c: late, after: now });
    await writes;
    const final = (await node.host.mustRead(runId)).seq;
    expect(final).toBe(early + 150);
    for (const { c, after } of clients) {
      await c.next(isUpdate(runId, final));
      await c.settle();
      expect(updatesOf(c, runId)).toEqual(range(after + 1, final));
      c.close();
    }
  });

  it('without after_seq sends only what is written after the subscription', async () => {
    const runId = await awaitingRun();
    const c = await connect(node.url, SERVICE_KEY);
    const reply = await c.request('subscribe', { run_id: runId });
    const seq = reply.data['seq'] as number;
    await write(runId);
    await write(runId);
    await c.next(isUpdate(runId, seq + 2));
    await c.settle();
    expect(updatesOf(c, runId)).toEqual([seq + 1, seq + 2]);
    expect(await c.request('unsubscribe', { run_id: runId })).toMatchObject({
      type: 'unsubscribed',
      data: { run_id: runId },
    });
    await write(runId);
    await new Promise((r) => setTimeout(r, 100));
    await c.settle();
    expect(updatesOf(c, runId)).toEqual([seq + 1, seq + 2]);
    c.close();
  });

  it('by session_id delivers a whole run: status updates, step completions, in order', async () => {
    const c = await connect(node.url, SERVICE_KEY);
    expect(await c.request('subscribe', { session_id: 's1' })).toMatchObject({
      type: 'subscribed',
      data: { session_id: 's1' },
    });
    const runId = (await node.createRun({ policy: 'auto' })).snapshot.context.run_id;
    const done = await c.next(
      (f) =>
        f.type === 'hitl_status_update' &&
        f.data['run_id'] === runId &&
        f.data['event_type'] === 'run.completed',
    );
    const final = done.data['seq'] as number;
    await c.settle();
    expect(updatesOf(c, runId)).toEqual(range(1, final));
    expect(done.data).toMatchObject({
      status: 'completed',
      current_step: 'completed',
      message: 'Run completed',
    });
    const completions = c.frames
      .filter((f) => f.type === 'hitl_step_completion' && f.data['run_id'] === runId)
      .map((f) => f.data['step']);
    expect(completions).toEqual([
      'created',
      'information_review',
      'payload_review',
      'api_call',
      'response_review',
    ]);
    const summary = c.frames.find((f) => f.type === 'hitl_step_completion' && f.data['run_id'] === runId);
    expect(JSON.stringify(summary?.data['result']).length).toBeLessThanOrEqual(4096);
    await c.request('unsubscribe', { session_id: 's1' });
    c.close();
  });

  it('by user_id delivers only runs the reviewer may read', async () => {
    const stranger = await connect(node.url, await reviewerToken('zed', []));
    const owner = await connect(node.url, await reviewerToken('u1', []));
    await stranger.request('subscribe', { user_id: 'u1' });
    await owner.request('subscribe', { user_id: 'u1' });
    const runId = (await node.createRun({ policy: 'auto' })).snapshot.context.run_id;
    await owner.next((f) => f.data['run_id'] === runId && f.data['event_type'] === 'run.completed');
    await stranger.settle();
    expect(stranger.frames.filter((f) => f.data['run_id'] === runId)).toEqual([]);
    stranger.close();
    owner.close();
  });

  it('fills a gap from the log when fan-out lost messages (events written by a node it never heard from)', async () => {
    const runId = await awaitingRun();
    const other = await startNode({ db: node.db });
    try {
      const c = await connect(node.url, SERVICE_KEY);
      const seq = (await c.request('subscribe', { run_id: runId })).data['seq'] as number;
      for (let i = 0; i < 3; i++) {
        await coreOf(other.host).apply(runId, (_run, stamp) => ({
          type: 'run.recovered',
          ...stamp('system'),
          node: 'b',
        }));
      }
      await write(runId);
      await c.next(isUpdate(runId, seq + 4));
      await c.settle();
      expect(updatesOf(c, runId)).toEqual(range(seq + 1, seq + 4));
      c.close();
    } finally {
      await other.close(false);
    }
  });

  it('refuses runs the reviewer may not read (forbidden) and unknown runs (run_not_found)', async () => {
    const runId = await awaitingRun();
    const zed = await connect(node.url, await reviewerToken('zed', ['auditor']));
    expect((await zed.request('subscribe', { run_id: runId })).data).toMatchObject({ code: 'forbidden' });
    expect(
      (await zed.request('subscribe', { run_id: '00000000-0000-4000-8000-000000000000' })).data,
    ).toMatchObject({
      code: 'run_not_found',
    });
    expect((await zed.request('subscribe', { run_id: 'not-a-uuid' })).data).toMatchObject({
      code: 'run_not_found',
    });
    await write(runId);
    await zed.settle();
    expect(zed.frames.filter((f) => f.type === 'hitl_status_update')).toEqual([]);
    zed.close();
  });
});
