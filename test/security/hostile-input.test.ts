import { describe, expect, it } from 'vitest';
import { createAuth } from '../../server/auth/auth.ts';
import { attachWebSocket } from '../../server/ws/hub.ts';
import {
  codeOf,
  createEchoRun,
  echoInput,
  listen,
  runAtPayloadReview,
  SERVICE_KEY,
  type TestApp,
  WEBHOOK_SECRET,
  withTestApp,
} from '../server/support.ts';
import { connect, type Frame } from '../server/ws-harness.ts';
import { signWebhook } from '../support/fake-replicate.ts';

/** SPEC §7 hostile JSON: too deep, NUL, lone surrogates → 422 naming the path; never a 500. */

let t: TestApp;
withTestApp((app) => {
  t = app;
});

/** `n` objects nested in each other around `1` (depth n). */
function nest(n: number): string {
  let s = '1';
  for (let i = 0; i < n; i++) s = `{"a":${s}}`;
  return s;
}
const withExtra = (extra: string) =>
  `{"run_input":{"prompt":"p","agent_tool_config":{"echo-agent-tool":{}},"extra":${extra}}}`;

const fieldsOf = (json: Record<string, unknown>) =>
  ((json.error as { details?: { fields?: string[] } }).details?.fields ?? []).join(',');

describe('nesting', () => {
  it('a body nested 1,500 (and 10,000) levels deep is 422 naming the path, and nothing is stored', async () => {
    const before = (await t.call('GET', '/hitl/runs?limit=1')).json.total;
    for (const depth of [1500, 10_000]) {
      const res = await t.call('POST', '/hitl/run', { body: withExtra(nest(depth)) });
      expect([res.status, codeOf(res.json)], res.text.slice(0, 200)).toEqual([422, 'invalid_request']);
      expect(fieldsOf(res.json)).toMatch(/^run_input\.extra(\.a)+$/);
    }
    expect((await t.call('GET', '/hitl/runs?limit=1')).json.total).toBe(before);
    expect((await t.call('GET', '/readyz', { token: null })).status).toBe(200);
  });

  it('more than 10,000 object keys in one body are 422 (wide bodies stalled the node)', async () => {
    const keys = (n: number) => `{${Array.from({ length: n }, (_, i) => `"f${i}":${i}`).join(',')}}`;
    const wide = await t.call('POST', '/hitl/run', { body: withExtra(keys(20_000)) });
    expect([wide.status, codeOf(wide.json)]).toEqual([422, 'invalid_request']);
    expect(String((wide.json.error as { message: string }).message)).toContain('more than 10000 object keys');
    expect((await t.call('POST', '/hitl/run', { body: withExtra(keys(9000)) })).status).toBe(201);
  });

  it('64 levels are accepted, 65 are not', async () => {
    // body (1) › run_input (2) › extra: 62 more objects = 64 in all.
    expect((await t.call('POST', '/hitl/run', { body: withExtra(nest(62)) })).status).toBe(201);
    expect((await t.call('POST', '/hitl/run', { body: withExtra(nest(63)) })).status).toBe(422);
  });

  it('decision edits nested 1,500 deep are 422 over HTTP and an error frame over the WebSocket; the approval stays open', async () => {
    const { id, approvalId } = await runAtPayloadReview(t);
    const deepEdits = `{"payload":${nest(1500)}}`;
    const viaRun = await t.call('POST', `/hitl/run/${id}/approve`, {
      body: `{"approval_id":"${approvalId}","action":"edit","edits":${deepEdits}}`,
    });
    expect([viaRun.status, codeOf(viaRun.json)]).toEqual([422, 'invalid_request']);
    expect(fieldsOf(viaRun.json)).toMatch(/^edits\.payload(\.a)+$/);
    const viaRespond = await t.call('POST', `/hitl/approvals/${approvalId}/respond`, {
      body: `{"action":"edit","edits":${deepEdits}}`,
    });
    expect(viaRespond.status).toBe(422);
    const viaFrame = await t.call('POST', '/hitl/websocket/message', {
      body: `{"type":"hitl_approval_response","data":{"approval_id":"${approvalId}","action":"edit","edits":${deepEdits}}}`,
    });
    expect(viaFrame.status).toBe(422);

    const server = await listen(t.app);
    const hub = attachWebSocket(server.server, {
      host: t.host,
      approvals: t.approvals,
      auth: createAuth({ apiKeys: [SERVICE_KEY] }),
      log: { info() {}, warn() {}, error() {} },
    });
    try {
      const ws = await connect(`${server.url.replace('http', 'ws')}/ws`, SERVICE_KEY);
      ws.ws.send(
        `{"type":"hitl_approval_response","request_id":"deep","data":{"approval_id":"${approvalId}","action":"edit","edits":${deepEdits}}}`,
      );
      const reply = await ws.next((f: Frame) => f.request_id === 'deep');
      expect(reply.type).toBe('error');
      expect(reply.data).toMatchObject({ code: 'invalid_request' });
      expect(String(reply.data['message'])).toContain('frame.data.edits.payload.a');
      // The socket stays open and usable.
      expect((await ws.request('ping')).type).toBe('pong');
      ws.close();
    } finally {
      await hub.close();
      await server.close();
    }
    expect((await t.call('GET', `/hitl/approvals/${approvalId}`)).json.status).toBe('pending');
  });
});

describe('NUL characters and lone surrogates', () => {
  it('in a body string or key: 422 naming the path, never a 500', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['/hitl/run', withExtra('"x"').replace('"p"', '"a\\u0000b"'), /^run_input\.prompt$/],
      ['/hitl/run', withExtra('"x"').replace('"p"', '"a\\ud800b"'), /^run_input\.prompt$/],
      ['/hitl/run', withExtra('"x"').replace('"p"', '"a\\udc00"'), /^run_input\.prompt$/],
      ['/hitl/run', withExtra('{"k\\u0000":1}'), /^run_input\.extra/],
      ['/teams/run', JSON.stringify(echoInput({ prompt: 'x\u0000' })), /^prompt$/],
      ['/hitl/approvals', '{"action_description":"Buy","context":{"note":"a\\u0000b"}}', /^context\.note$/],
    ];
    for (const [path, body, field] of cases) {
      const res = await t.call('POST', path, { body });
      expect([res.status, codeOf(res.json)], `${path} ${body}`).toEqual([422, 'invalid_request']);
      expect(fieldsOf(res.json), body).toMatch(field);
    }
    // A well-formed surrogate pair (an emoji) is fine.
    expect((await t.call('POST', '/hitl/run', { body: withExtra('"\\ud83d\\ude00"') })).status).toBe(201);
  });

  it('in a query or a path: 422 / 404, never a 500', async () => {
    for (const path of [
      '/hitl/runs?user_id=%00',
      '/hitl/runs/active?user_id=a%00b',
      '/hitl/approvals/pending?session_id=%00',
    ]) {
      const res = await t.call('GET', path);
      expect([res.status, codeOf(res.json)], path).toEqual([422, 'invalid_request']);
    }
    for (const path of [
      '/hitl/sessions/%00/active',
      '/hitl/runs/%00',
      '/hitl/approvals/%00',
      '/hitl/sessions/%E0%A4%A/active',
    ]) {
      const res = await t.call('GET', path);
      expect(res.status, path).toBe(404);
    }
  });

  it('in a genuine webhook: 422, the run unchanged', async () => {
    const id = await createEchoRun(t, { policy: 'require_human', allowed_steps: ['payload_review'] });
    const body = `{"id":"p1","status":"succeeded","output":"a\\u0000b"}`;
    const wid = 'msg_nul';
    const ts = String(Math.floor(Date.now() / 1000));
    const res = await t.call('POST', `/webhooks/replicate?run_id=${id}`, {
      token: null,
      body,
      headers: {
        'webhook-id': wid,
        'webhook-timestamp': ts,
        'webhook-signature': signWebhook(WEBHOOK_SECRET, wid, ts, body),
      },
    });
    expect([res.status, codeOf(res.json)]).toEqual([422, 'invalid_request']);
  });
});
