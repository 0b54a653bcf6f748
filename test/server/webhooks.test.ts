import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '../../persistence/embedded-postgres.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { type FakeReplicate, signWebhook, startFakeReplicate } from '../support/fake-replicate.ts';
import { awaitEnd, codeOf, listen, type TestApp, testApp, WEBHOOK_SECRET } from './support.ts';

/** Replicate webhooks: checked on the raw body; forged, stale and replayed ones change nothing. */

let db: TestDatabase;
let fake: FakeReplicate;
let t: TestApp;
let server: Awaited<ReturnType<typeof listen>>;

const MODEL = { name: 'acme/painter', version: 'ver-1', example_input: { prompt: 'demo', steps: 20 } };

beforeAll(async () => {
  db = await createTestDatabase();
  fake = await startFakeReplicate({ webhookSecret: WEBHOOK_SECRET });
  const port = await freePort();
  // Polling far apart: what completes these runs is the webhook.
  t = testApp(db, {
    replicateUrl: fake.url,
    publicUrl: `http://127.0.0.1:${port}`,
    host: { timers: { tickMs: 30, recoveryMs: 200, pollMs: 600_000 } },
  });
  server = await listen(t.app, port);
});
beforeEach(() => fake.reset());
afterAll(async () => {
  await server.close();
  await t.close();
  await fake.close();
  await db.drop();
});

async function startRun(): Promise<string> {
  const res = await t.call('POST', '/hitl/run', {
    body: {
      run_input: { prompt: 'a kite', user_id: 'u1', agent_tool_config: { 'replicate-agent-tool': MODEL } },
    },
  });
  return String(res.json.run_id);
}

async function waitingPrediction(runId: string): Promise<{ id: string; seq: number }> {
  for (let i = 0; i < 200; i++) {
    const view = (await t.call('GET', `/hitl/runs/${runId}`)).json;
    const prediction = view.prediction as { id: string } | null;
    if (prediction?.id && view.status === 'running') return { id: prediction.id, seq: Number(view.seq) };
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('no prediction');
}

function post(runId: string, body: string, headers: Record<string, string>) {
  return fetch(`${server.url}/webhooks/replicate?run_id=${runId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
}

function signed(body: string, opts: { id?: string; timestamp?: number; secret?: string } = {}) {
  const id = opts.id ?? `msg_${Math.random().toString(36).slice(2)}`;
  const ts = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
  return {
    'webhook-id': id,
    'webhook-timestamp': ts,
    'webhook-signature': signWebhook(opts.secret ?? WEBHOOK_SECRET, id, ts, body),
  };
}

const seqOf = async (runId: string) => Number((await t.call('GET', `/hitl/runs/${runId}`)).json.seq);

describe('POST /webhooks/replicate', () => {
  it('asks Replicate for webhooks at HITL_PUBLIC_URL with the run id, and a genuine one completes the run', async () => {
    fake.setDefault({ kind: 'succeed', afterMs: 300 });
    const runId = await startRun();
    const end = await awaitEnd(t, runId);
    expect(end.status).toBe('completed');
    expect(fake.received.creates[0]?.webhook).toBe(`${server.url}/webhooks/replicate?run_id=${runId}`);
    expect(fake.received.creates[0]?.webhook_events_filter).toEqual(['completed']);
    // The run is acknowledged before the fake has read our answer: give it a moment.
    for (let i = 0; i < 50 && fake.received.webhooks[0]?.status == null; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(fake.received.webhooks.map((w) => w.status)).toEqual([200]);
    const events = (await t.call('GET', `/hitl/runs/${runId}/events`)).json.events as Array<{
      type: string;
      actor: string;
    }>;
    expect(events.find((e) => e.type === 'prediction.succeeded')?.actor).toBe('provider:replicate');
  });

  it('refuses forged, stale, unsigned and wrongly keyed webhooks with 401, and nothing changes', async () => {
    fake.setDefault({ kind: 'succeed', afterMs: 4000 });
    const runId = await startRun();
    const { id, seq } = await waitingPrediction(runId);
    const body = JSON.stringify({
      id,
      status: 'succeeded',
      output: ['https://evil.example/x.png'],
      error: null,
    });
    const good = signed(body);
    const attempts: Array<[string, Record<string, string>, string]> = [
      ['tampered body', good, body.replace('evil', 'eviler')],
      ['bad signature', { ...good, 'webhook-signature': 'v1,AAAA' }, body],
      ['other secret', signed(body, { secret: `whsec_${Buffer.from('nope').toString('base64')}` }), body],
      ['stale', signed(body, { timestamp: Math.floor(Date.now() / 1000) - 400 }), body],
      ['future', signed(body, { timestamp: Math.floor(Date.now() / 1000) + 400 }), body],
      ['unsigned', {}, body],
    ];
    for (const [what, headers, sent] of attempts) {
      const res = await post(runId, sent, headers);
      expect(res.status, what).toBe(401);
      expect(codeOf((await res.json()) as Record<string, unknown>), what).toBe('unauthorized');
    }
    expect(await seqOf(runId)).toBe(seq);

    // The refused ids were not burned: the genuine webhook with the same id is accepted once.
    const res = await post(runId, body, good);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: true, duplicate: false });
    const end = await awaitEnd(t, runId);
    expect(end.final_result).toEqual(['https://evil.example/x.png']);

    // A replay of the same webhook-id, or a late one after the end, changes nothing.
    const replay = await post(runId, body, good);
    expect([replay.status, await replay.json()]).toEqual([200, { received: true, duplicate: true }]);
    const late = await post(
      runId,
      JSON.stringify({ id, status: 'failed', error: 'late' }),
      signed(JSON.stringify({ id, status: 'failed', error: 'late' })),
    );
    expect(late.status).toBe(200);
    expect(await seqOf(runId)).toBe(Number(end.seq));
  });

  it('answers 404 for a genuine webhook of an unknown run, and 422 for a body that is not a prediction', async () => {
    const body = JSON.stringify({ id: 'p1', status: 'succeeded' });
    const unknown = await post('00000000-0000-4000-8000-000000000000', body, signed(body));
    expect(unknown.status).toBe(404);
    const runId = await startRun();
    const junk = JSON.stringify({ hello: 'world' });
    const res = await post(runId, junk, signed(junk));
    expect(res.status).toBe(422);
  });

  it('refuses every webhook when no secret is configured', async () => {
    const bare = testApp(db, { app: { webhookSecret: undefined } });
    try {
      const body = JSON.stringify({ id: 'p1', status: 'succeeded' });
      const res = await bare.call('POST', '/webhooks/replicate?run_id=00000000-0000-4000-8000-000000000000', {
        body,
        token: null,
        headers: signed(body),
      });
      expect(res.status).toBe(401);
    } finally {
      await bare.close();
    }
  });
});
