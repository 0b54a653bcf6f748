import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import {
  awaitEnd,
  awaitHuman,
  createEchoRun,
  listen,
  openApproval,
  SERVICE_KEY,
  type TestApp,
  testApp,
} from './support.ts';

interface SseEvent {
  id: string | null;
  event: string | null;
  data: string;
}

/** An SSE client over fetch: collects events (and comments) until `stop` says so or the stream ends. */
async function readSse(
  url: string,
  headers: Record<string, string>,
  stop: (events: SseEvent[], comments: string[]) => boolean = () => false,
): Promise<{ events: SseEvent[]; comments: string[]; ended: boolean; status: number }> {
  const controller = new AbortController();
  const res = await fetch(url, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: controller.signal,
  });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  if (!res.body) return { events, comments, ended: true, status: res.status };
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let ended = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        ended = true;
        break;
      }
      buffer += decoder.decode(value, { stream: true });
      let cut = buffer.indexOf('\n\n');
      while (cut >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const e: SseEvent = { id: null, event: null, data: '' };
        let isEvent = false;
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) comments.push(line);
          else if (line.startsWith('id:')) e.id = line.slice(3).trim();
          else if (line.startsWith('event:')) e.event = line.slice(6).trim();
          else if (line.startsWith('data:')) {
            e.data += line.slice(5).trim();
            isEvent = true;
          }
        }
        if (isEvent) events.push(e);
        cut = buffer.indexOf('\n\n');
      }
      if (stop(events, comments)) break;
    }
  } finally {
    controller.abort();
  }
  return { events, comments, ended, status: res.status };
}

let db: TestDatabase;
let t: TestApp;
let server: Awaited<ReturnType<typeof listen>>;

beforeAll(async () => {
  db = await createTestDatabase();
  t = testApp(db, { app: { limits: { heartbeatMs: 100 } } });
  server = await listen(t.app);
});
afterAll(async () => {
  await server.close();
  await t.close();
  await db.drop();
});

const auth = { authorization: `Bearer ${SERVICE_KEY}` };

describe('GET /hitl/runs/{id}/events as SSE', () => {
  it('streams from the first event, id = seq and event = type, and ends after the terminal events', async () => {
    const id = await createEchoRun(t);
    const end = await awaitEnd(t, id);
    const { events, ended, status } = await readSse(`${server.url}/hitl/runs/${id}/events`, auth);
    expect(status).toBe(200);
    expect(ended).toBe(true);
    expect(events.map((e) => Number(e.id))).toEqual(Array.from({ length: Number(end.seq) }, (_, i) => i + 1));
    const first = events[0];
    expect(first?.event).toBe('run.created');
    expect(JSON.parse(first?.data ?? '{}')).toMatchObject({
      seq: 1,
      type: 'run.created',
      run_id: id,
      status: 'queued',
    });
    expect(events.at(-1)?.event).toBe('run.completed');
  });

  it('after a disconnect, a reconnect with Last-Event-ID gets every event exactly once', async () => {
    const id = await createEchoRun(t, {
      policy: 'require_human',
      allowed_steps: ['payload_review', 'response_review'],
    });
    const url = `${server.url}/hitl/runs/${id}/events`;
    // First connection: until the first checkpoint opens, then the client goes away.
    const part1 = await readSse(url, auth, (ev) => ev.some((e) => e.event === 'approval.opened'));
    expect(part1.ended).toBe(false);
    const lastId = part1.events.at(-1)?.id ?? '0';

    // While nobody listens, the run moves on.
    const atPayload = await awaitHuman(t, id);
    await t.call('POST', `/hitl/run/${id}/approve`, {
      body: { approval_id: openApproval(atPayload).approval_id, action: 'approve' },
    });
    const atResponse = await t.call('GET', `/hitl/runs/${id}?wait_for=awaiting_human&timeout=10`);
    expect(atResponse.json.current_step).toBe('response_review');

    // Second connection: catch up from Last-Event-ID, then live (the approval below happens while connected).
    const part2Promise = readSse(url, { ...auth, 'last-event-id': lastId });
    await new Promise((r) => setTimeout(r, 200));
    await t.call('POST', `/hitl/run/${id}/approve`, {
      body: { approval_id: openApproval(atResponse.json).approval_id, action: 'approve' },
    });
    const part2 = await part2Promise;
    expect(part2.ended).toBe(true);

    const end = await awaitEnd(t, id);
    const seqs = [...part1.events, ...part2.events].map((e) => Number(e.id));
    expect(seqs).toEqual(Array.from({ length: Number(end.seq) }, (_, i) => i + 1));
    const log = await t.call('GET', `/hitl/runs/${id}/events?limit=1000`);
    expect([...part1.events, ...part2.events].map((e) => e.event)).toEqual(
      (log.json.events as Array<{ type: string }>).map((e) => e.type),
    );
  });

  it('sends heartbeats while nothing happens, and accepts ?token= for EventSource clients', async () => {
    const id = await createEchoRun(t, { policy: 'require_human', allowed_steps: ['payload_review'] });
    await awaitHuman(t, id);
    const res = await readSse(
      `${server.url}/hitl/runs/${id}/events?token=${SERVICE_KEY}`,
      {},
      (ev, comments) => ev.length >= 4 && comments.length >= 2,
    );
    expect(res.status).toBe(200);
    expect(res.comments.some((c) => c.includes('heartbeat'))).toBe(true);
    expect(res.events).toHaveLength(4);
  });

  it('refuses a malformed Last-Event-ID (422) and ?token= for JSON requests (401)', async () => {
    const id = await createEchoRun(t);
    const bad = await fetch(`${server.url}/hitl/runs/${id}/events`, {
      headers: { ...auth, accept: 'text/event-stream', 'last-event-id': 'abc' },
    });
    expect(bad.status).toBe(422);
    const json = await fetch(`${server.url}/hitl/runs/${id}/events?token=${SERVICE_KEY}`);
    expect(json.status).toBe(401);
  });
});

describe('GET /hitl/runs/{id}/events as JSON', () => {
  it('pages with after_seq and limit; next_cursor continues', async () => {
    const id = await createEchoRun(t);
    const end = await awaitEnd(t, id);
    const first = await t.call('GET', `/hitl/runs/${id}/events?limit=3`);
    const rows = first.json.events as Array<Record<string, unknown>>;
    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(Object.keys(rows[0] ?? {}).sort()).toEqual(
      ['actor', 'created_at', 'message', 'payload', 'run_id', 'seq', 'status', 'step', 'type'].sort(),
    );
    expect(first.json.next_cursor).toBe('3');
    const rest = await t.call('GET', `/hitl/runs/${id}/events?after_seq=3&limit=100`);
    expect((rest.json.events as unknown[]).length).toBe(Number(end.seq) - 3);
    expect(rest.json.next_cursor).toBeNull();
    expect((await t.call('GET', `/hitl/runs/${id}/events?after_seq=-1`)).status).toBe(422);
  });
});

describe('shutdown', () => {
  it('ends open streams and answers long-polls with the current state', async () => {
    const local = testApp(db);
    const srv = await listen(local.app);
    try {
      const id = await createEchoRun(local, { policy: 'require_human', allowed_steps: ['payload_review'] });
      await awaitHuman(local, id);
      const stream = readSse(`${srv.url}/hitl/runs/${id}/events`, auth);
      const poll = local.call('GET', `/hitl/runs/${id}?wait_for=terminal&timeout=50`);
      await new Promise((r) => setTimeout(r, 200));
      local.shutdown.abort();
      const [s, p] = await Promise.all([stream, poll]);
      expect(s.ended).toBe(true);
      expect(s.events.length).toBe(4);
      expect(p.json.status).toBe('awaiting_human');
    } finally {
      await srv.close();
      await local.close();
    }
  });
});
