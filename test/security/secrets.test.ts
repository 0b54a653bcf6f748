import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../actors/logger.ts';
import { isSecretKey } from '../../actors/redact.ts';
import type { HostMessage } from '../../actors/run-messages.ts';
import { createRelay } from '../../server/ws/relay.ts';
import { awaitEnd, awaitHuman, openApproval, type TestApp, testApp } from '../server/support.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { type FakeReplicate, startFakeReplicate } from '../support/fake-replicate.ts';

/** SPEC §7: secrets are never stored or returned; secret-named payload fields are an error issue. */

let db: TestDatabase;
let fake: FakeReplicate;
let t: TestApp;
const logged: string[] = [];
const messages: HostMessage[] = [];
const relayed: string[] = [];
const capture: Logger = {
  info: (o, m) => void logged.push(JSON.stringify([o, m])),
  warn: (o, m) => void logged.push(JSON.stringify([o, m])),
  error: (o, m) => void logged.push(JSON.stringify([o, m])),
};

let n = 0;
/** A unique secret value; every one made is looked for everywhere at the end. */
const made: string[] = [];
const secret = () => {
  const s = `SECRET-${++n}-${Math.random().toString(36).slice(2)}`;
  made.push(s);
  return s;
};

const MODEL = () => ({
  name: 'acme/writer',
  version: 'ver-writer-1',
  'x-api-key': secret(),
  example_input: { prompt: 'demo', max_tokens: 512, max_new_tokens: 128, temperature: 0.7 },
});

beforeAll(async () => {
  db = await createTestDatabase();
  fake = await startFakeReplicate();
  t = testApp(db, { replicateUrl: fake.url, app: { log: capture }, host: { log: capture } });
  const relay = createRelay({
    url: 'ws://relay.invalid/ws',
    apiKey: 'relay-key',
    log: capture,
    fetch: async (_url, init) => {
      relayed.push(String(init?.body));
      return new Response('{}');
    },
  });
  t.host.subscribe((m) => {
    messages.push(m);
    relay.forward(m);
  });
});
beforeEach(() => fake.reset());
afterAll(async () => {
  await t.close();
  await fake.close();
  await db.drop();
});

async function start(config: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const res = await t.call('POST', '/hitl/run', {
    body: {
      run_input: {
        prompt: 'write a haiku',
        user_id: 'u1',
        api_token: secret(),
        agent_tool_config: { 'replicate-agent-tool': { data: MODEL() } },
        ...extra,
      },
      hitl_config: config,
    },
  });
  expect(res.status, res.text).toBe(201);
  return String(res.json.run_id);
}

async function decide(id: string, view: Record<string, unknown>, body: Record<string, unknown>) {
  const res = await t.call('POST', `/hitl/run/${id}/approve`, {
    body: { approval_id: openApproval(view).approval_id, ...body },
  });
  expect(res.status, res.text).toBe(200);
  return res.json;
}

describe('the secret rule', () => {
  it('goes by words: the key forms of SPEC §7 are secret, max_tokens and friends are not', () => {
    for (const k of ['x-api-key', 'api-key', 'accessKey', 'access_key', 'session_token', 'credentials']) {
      expect(isSecretKey(k), k).toBe(true);
    }
    for (const k of ['auth', 'apikey', 'Authorization', 'client_secret', 'privateKey', 'cookie', 'passwd']) {
      expect(isSecretKey(k), k).toBe(true);
    }
    for (const k of ['max_tokens', 'max_new_tokens', 'author', 'token_count', 'authority', 'keys']) {
      expect(isSecretKey(k), k).toBe(false);
    }
  });

  it('redacts secrets in edits at information_review and response_review; max_tokens reaches the model unchanged', async () => {
    const id = await start({
      policy: 'require_human',
      allowed_steps: ['information_review', 'payload_review', 'response_review'],
    });
    const info = await awaitHuman(t, id);
    await decide(id, info, {
      action: 'edit',
      edits: {
        prompt: 'write a sonnet',
        model_config: {
          api_token: secret(),
          accessKey: secret(),
          credentials: { user: 'me', pass: secret() },
          auth: secret(),
          'api-key': secret(),
        },
      },
    });
    const payload = await awaitHuman(t, id);
    expect(payload.suggested_payload).toEqual({
      prompt: 'write a sonnet',
      max_tokens: 512,
      max_new_tokens: 128,
      temperature: 0.7,
    });
    await decide(id, payload, { action: 'approve' });
    const response = await awaitHuman(t, id);
    expect(fake.received.creates[0]?.input).toEqual(payload.suggested_payload);
    await decide(id, response, {
      action: 'edit',
      edits: { response: { text: 'fine', session_token: secret(), nested: [{ cookie: secret() }] } },
    });
    const done = await awaitEnd(t, id);
    expect(done.final_result).toEqual({
      text: 'fine',
      session_token: '[redacted]',
      nested: [{ cookie: '[redacted]' }],
    });
  });

  it('at payload_review, a secret-named field is redacted and an error issue: never sent', async () => {
    const id = await start({ policy: 'require_human', allowed_steps: ['payload_review'] });
    const at = await awaitHuman(t, id);
    await decide(id, at, { action: 'edit', edits: { payload: { access_key: secret(), temperature: 0.2 } } });
    const again = await awaitHuman(t, id);
    expect(again.suggested_payload).toMatchObject({ access_key: '[redacted]', temperature: 0.2 });
    expect(again.validation_issues).toContainEqual(
      expect.objectContaining({
        field: 'access_key',
        severity: 'error',
        issue: expect.stringContaining('secrets do not belong in a reviewed payload'),
      }),
    );
    expect(openApproval(again).actions).toEqual(['edit', 'reject']);
    await decide(id, again, { action: 'reject' });
    expect(fake.received.creates).toHaveLength(0);
  });

  it('an example_input field named like a secret is an error issue, not a silent change', async () => {
    const res = await t.call('POST', '/hitl/run', {
      body: {
        run_input: {
          prompt: 'p',
          agent_tool_config: {
            'replicate-agent-tool': {
              data: { name: 'acme/w', version: 'v1', example_input: { prompt: '', hf_token: secret() } },
            },
          },
        },
        hitl_config: { policy: 'auto' },
      },
    });
    const id = String(res.json.run_id);
    const at = await awaitHuman(t, id);
    expect(openApproval(at).checkpoint_type).toBe('payload_review');
    expect(at.validation_issues).toContainEqual(
      expect.objectContaining({ field: 'hf_token', severity: 'error' }),
    );
    await decide(id, at, { action: 'reject' });
    expect(fake.received.creates).toHaveLength(0);
  });

  it('at error_recovery, secrets in payload edits are redacted and block the retry', async () => {
    fake.script({ kind: 'http', status: 422, body: { title: 'Invalid', detail: 'bad', status: 422 } });
    const id = await start({ policy: 'auto' });
    const at = await awaitHuman(t, id);
    expect(openApproval(at).checkpoint_type).toBe('error_recovery');
    await decide(id, at, { action: 'edit', edits: { payload: { apiKey: secret() } } });
    const again = await awaitHuman(t, id);
    expect(openApproval(again).checkpoint_type).toBe('error_recovery');
    expect(again.suggested_payload).toMatchObject({ apiKey: '[redacted]', max_tokens: 512 });
    expect(openApproval(again).actions).not.toContain('retry');
    await decide(id, again, { action: 'reject' });
    expect(fake.received.creates).toHaveLength(1);
  });

  it('redacts a standalone approval context and its edits', async () => {
    const created = await t.call('POST', '/hitl/approvals', {
      body: {
        action_description: 'Buy',
        context: { item: 'lamp', cookie: secret(), headers: { Authorization: secret() } },
        actions: ['approve', 'edit', 'reject'],
      },
    });
    expect(created.status, created.text).toBe(201);
    expect(created.json.context).toEqual({
      action_description: 'Buy',
      item: 'lamp',
      cookie: '[redacted]',
      headers: { Authorization: '[redacted]' },
    });
    const id = String(created.json.approval_id);
    const decided = await t.call('POST', `/hitl/approvals/${id}/respond`, {
      body: { action: 'edit', edits: { card: { number: '4111', password: secret() } } },
    });
    expect(decided.status, decided.text).toBe(200);
    expect((decided.json.approval as { decision: { edits: unknown } }).decision.edits).toEqual({
      card: { number: '4111', password: '[redacted]' },
    });
  });

  it('no secret made above is in the database, any response, any bus message, the relay or the log', async () => {
    const rows = await db.sql`
      select (select coalesce(string_agg(r::text, ''), '') from runs r)
          || (select coalesce(string_agg(e::text, ''), '') from run_events e)
          || (select coalesce(string_agg(a::text, ''), '') from approvals a) as all`;
    const stored = String(rows[0]?.all);
    const listed = await t.call('GET', '/hitl/runs?limit=200');
    let responses = listed.text;
    for (const r of listed.json.runs as Array<{ run_id: string }>) {
      responses += (await t.call('GET', `/hitl/runs/${r.run_id}`)).text;
      responses += (await t.call('GET', `/hitl/runs/${r.run_id}/events?limit=1000`)).text;
    }
    const everything = [stored, responses, JSON.stringify(messages), relayed.join(''), logged.join('')];
    expect(stored.length).toBeGreaterThan(1000);
    expect(messages.length).toBeGreaterThan(5);
    await expect.poll(() => relayed.length).toBeGreaterThan(5);
    for (const s of made) for (const text of everything) expect(text.includes(s), s).toBe(false);
  });
});
