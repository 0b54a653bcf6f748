import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { Logger } from '../../actors/logger.ts';
import { startInspector } from '../../server/inspect.ts';
import { awaitEnd, awaitHuman, createEchoRun, openApproval, type TestApp, withTestApp } from './support.ts';

let t: TestApp;
withTestApp((app) => {
  t = app;
});
const silent: Logger = { info() {}, warn() {}, error() {} };

interface Message {
  type: string;
  sessionId: string;
  rootId?: string;
  name?: string;
  definition?: string;
  sourceId?: string;
  event?: { type: string };
  snapshot?: { value: unknown; status: string };
}
interface StateNode {
  states?: Record<string, StateNode>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/** Every state path of a definition (`payload_review.awaitingReview`, …). */
function paths(node: StateNode, prefix = ''): string[] {
  return Object.entries(node.states ?? {}).flatMap(([key, child]) => {
    const path = prefix ? `${prefix}.${key}` : key;
    return [path, ...paths(child, path)];
  });
}

/** A snapshot value (`{ payload_review: 'awaitingReview' }`) as the path of its leaf. */
function leafPath(value: unknown): string {
  if (typeof value === 'string') return value;
  const [key, child] = Object.entries(value as Record<string, unknown>)[0] ?? ['', ''];
  return `${key}.${leafPath(child)}`;
}

describe('the Stately inspector relay', () => {
  let stop: () => void;
  let client: WebSocket;
  const received: Message[] = [];

  beforeAll(async () => {
    const port = await freePort();
    ({ stop } = await startInspector(`ws://127.0.0.1:${port}`, t.host, silent));
    // A plain WebSocket client, as the inspector page's bridge is: it gets what the relay passes on.
    client = await new Promise<WebSocket>((resolve, reject) => {
      const tryOpen = (left: number) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}`);
        ws.once('open', () => resolve(ws));
        ws.once('error', () => (left > 0 ? setTimeout(() => tryOpen(left - 1), 50) : reject()));
      };
      tryOpen(40);
    });
    client.on('message', (data) => received.push(JSON.parse(String(data)) as Message));
  });

  afterAll(() => {
    client?.close();
    stop?.();
  });

  async function until<T>(find: () => T | undefined, what: string): Promise<T> {
    for (let i = 0; i < 400; i++) {
      const found = find();
      if (found !== undefined) return found;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`never received ${what}`);
  }

  it('registers a run with the run machine definition and highlights each snapshot value in it', async () => {
    const runId = await createEchoRun(t, { policy: 'require_human', allowed_steps: ['payload_review'] });
    const approval = openApproval(await awaitHuman(t, runId));
    const res = await t.call('POST', `/hitl/approvals/${approval.approval_id}/respond`, {
      body: { action: 'approve' },
    });
    expect(res.status).toBe(200);
    await awaitEnd(t, runId);

    const actor = await until(
      () => received.find((m) => m.type === '@xstate.actor' && m.sessionId === runId),
      'the @xstate.actor message',
    );
    expect(actor.name).toBe('run');
    expect(actor.rootId).toBe(runId);
    const definition = JSON.parse(actor.definition ?? 'null') as StateNode & { id: string };
    expect(definition.id).toBe('run');
    const states = paths(definition);
    for (const s of [
      'created',
      'information_review',
      'payload_review.awaitingReview',
      'api_call.waiting',
      'completed',
    ])
      expect(states).toContain(s);

    const done = await until(() => {
      const snaps = received.filter((m) => m.type === '@xstate.snapshot' && m.sessionId === runId);
      return snaps.at(-1)?.snapshot?.value === 'completed' ? snaps : undefined;
    }, 'the completed snapshot');
    const values = done.map((m) => leafPath(m.snapshot?.value));
    for (const v of values) expect(states, v).toContain(v);
    expect(values).toContain('payload_review.awaitingReview');

    const events = received.filter((m) => m.type === '@xstate.event' && m.sessionId === runId);
    const approve = events.find((m) => m.event?.type === 'review.approve');
    expect(approve?.sourceId).toMatch(/^service:/);
    expect(events.find((m) => m.event?.type === 'run.created')).toBeDefined();
  }, 30_000);
});
