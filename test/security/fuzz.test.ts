import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuth } from '../../server/auth/auth.ts';
import { attachWebSocket } from '../../server/ws/hub.ts';
import { listen, runAtPayloadReview, SERVICE_KEY, type TestApp, withTestApp } from '../server/support.ts';
import { connect } from '../server/ws-harness.ts';

/**
 * Property-based: random and adversarial JSON (deep, wide, NUL, lone surrogates, huge numbers,
 * `__proto__`, wrong types, broken text) at every body-taking route and at the WebSocket. Never a
 * 5xx, never an uncaught exception (vitest fails the file on one), every run created still
 * verify-consistent. Replay a failure with FUZZ_SEED=<the printed seed>.
 */

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS = Number(process.env.FUZZ_RUNS ?? 120);

let t: TestApp;
withTestApp(
  (app) => {
    t = app;
  },
  // Forged webhooks are part of the input: they must not lock the fuzzer out (429) for the rest.
  { app: { failedAuth: { maxFailures: 1_000_000 } } },
);

const SPECIAL_LEAVES = [
  'null',
  'true',
  'false',
  '0',
  '-0',
  '1e999',
  '-1e999',
  '1.5e-400',
  '123456789012345678901234567890',
  '"\\u0000"',
  '"a\\ud800"',
  '"\\udc00b"',
  '"\\ud83d\\ude00"',
  '"__proto__"',
  '""',
  '"auto"',
  '"approve"',
  '"edit"',
];
const KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'prompt',
  'run_input',
  'hitl_config',
  'policy',
  'edits',
  'payload',
  'model_config',
  'response',
  'action',
  'approval_id',
  'api_key',
  'x-api-key',
  'max_tokens',
  'type',
  'data',
  'a\u0000b',
  'k\ud800',
];

const leaf = fc.oneof(
  fc.constantFrom(...SPECIAL_LEAVES),
  fc.integer().map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)),
  // `binary` units include lone surrogates; JSON.stringify writes them as \u escapes.
  fc.string({ unit: 'binary', maxLength: 12 }).map((s) => JSON.stringify(s)),
);
const key = fc.oneof(fc.constantFrom(...KEYS), fc.string({ unit: 'binary', maxLength: 8 }));
const { value } = fc.letrec<{ value: string; array: string; object: string }>((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 4 }).map((xs) => `[${xs.join(',')}]`),
  object: fc
    .array(fc.tuple(key, tie('value')), { maxLength: 5 })
    .map((kv) => `{${kv.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
}));
const deep = fc
  .tuple(fc.integer({ min: 60, max: 3000 }), fc.boolean())
  .map(([n, arrays]) =>
    arrays ? `${'['.repeat(n)}1${']'.repeat(n)}` : `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`,
  );
const wide = fc
  .integer({ min: 1000, max: 20_000 })
  .map((n) => `{${Array.from({ length: n }, (_, i) => `"k${i}":${i}`).join(',')}}`);
const anything = fc.oneof(
  { arbitrary: value, weight: 6 },
  { arbitrary: deep, weight: 1 },
  { arbitrary: wide, weight: 1 },
  { arbitrary: value.map((v) => v.slice(0, Math.max(1, v.length - 1))), weight: 1 },
);
const config = fc.oneof(
  fc.constantFrom(
    '{"policy":"auto"}',
    '{"policy":"require_human"}',
    '{"policy":"auto_with_thresholds"}',
    'null',
  ),
  value,
);

/** One request: a route and a body shaped like what it takes, with adversarial parts. */
function requests(ids: { run: string; approval: string }) {
  const prompt = fc.oneof(
    { arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }).map((p) => JSON.stringify(p)), weight: 3 },
    { arbitrary: value, weight: 1 },
  );
  const extra = fc.oneof({ arbitrary: value, weight: 3 }, { arbitrary: anything, weight: 1 });
  const createBody = fc
    .tuple(prompt, config, extra)
    .map(
      ([prompt, cfg, extra]) =>
        `{"run_input":{"prompt":${prompt},"user_id":"fz","agent_tool_config":{"echo-agent-tool":{}},"extra":${extra}},"hitl_config":${cfg}}`,
    );
  const teamsBody = fc
    .tuple(prompt, config, extra)
    .map(
      ([prompt, cfg, extra]) =>
        `{"prompt":${prompt},"user_id":"fz","agent_tool_config":{"echo-agent-tool":{}},"extra":${extra},"hitl_config":${cfg}}`,
    );
  const decision = fc
    .tuple(fc.constantFrom('"approve"', '"edit"', '"reject"', '"retry"'), anything)
    .map(([action, edits]) => `{"approval_id":"${ids.approval}","action":${action},"edits":${edits}}`);
  return fc.oneof(
    fc.tuple(fc.constant('POST /hitl/run'), fc.oneof(createBody, anything)),
    fc.tuple(fc.constant('POST /teams/run?enable_hitl=true'), fc.oneof(teamsBody, anything)),
    fc.tuple(fc.constant('POST /teams/run?timeout=1'), fc.oneof(teamsBody, anything)),
    fc.tuple(fc.constant('POST /teams/run-hitl'), fc.oneof(createBody, anything)),
    fc.tuple(
      fc.constant('POST /hitl/approvals'),
      fc.oneof(
        anything,
        anything.map((c) => `{"action_description":"Buy","context":${c}}`),
      ),
    ),
    fc.tuple(fc.constant(`POST /hitl/run/${ids.run}/approve`), fc.oneof(decision, anything)),
    fc.tuple(fc.constant(`POST /hitl/approvals/${ids.approval}/respond`), fc.oneof(decision, anything)),
    fc.tuple(
      fc.constantFrom('pause', 'resume', 'cancel').map((op) => `POST /hitl/run/${ids.run}/${op}`),
      anything,
    ),
    fc.tuple(fc.constant(`DELETE /hitl/approvals/${ids.approval}`), anything),
    fc.tuple(
      fc.constant('POST /hitl/websocket/message'),
      fc.oneof(
        anything,
        anything.map((d) => `{"type":"hitl_approval_response","data":${d}}`),
      ),
    ),
    fc.tuple(fc.constant(`POST /webhooks/replicate?run_id=${ids.run}`), anything),
  );
}

describe('fuzzing every body-taking route and the WebSocket', () => {
  const created = new Set<string>();
  let ids: { run: string; approval: string };
  beforeAll(async () => {
    process.stdout.write(`fuzz seed: ${SEED} (replay with FUZZ_SEED=${SEED})\n`);
    const held = await runAtPayloadReview(t);
    ids = { run: held.id, approval: held.approvalId };
  });

  it('never answers 5xx over HTTP', { timeout: 240_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(requests(ids), async ([route, body]) => {
        const [method, path] = route.split(' ') as [string, string];
        const res = await t.call(method, path, { body });
        if (res.status >= 500) throw new Error(`${route} → ${res.status} ${res.text.slice(0, 300)}`);
        const runId = res.json.run_id;
        if (res.status < 300 && typeof runId === 'string') created.add(runId);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
  });

  it('never breaks a socket: every frame is answered and the socket stays open', {
    timeout: 240_000,
  }, async () => {
    const server = await listen(t.app);
    const hub = attachWebSocket(server.server, {
      host: t.host,
      approvals: t.approvals,
      auth: createAuth({ apiKeys: [SERVICE_KEY] }),
      log: { info() {}, warn() {}, error() {} },
    });
    const ws = await connect(`${server.url.replace('http', 'ws')}/ws`, SERVICE_KEY);
    try {
      const frame = fc.oneof(
        anything,
        fc
          .tuple(
            fc.constantFrom(
              'subscribe',
              'unsubscribe',
              'hitl_approval_response',
              'hitl_list_pending',
              'hitl_cancel_approval',
              'ping',
              'nope',
            ),
            anything,
          )
          .map(([type, data]) => `{"type":"${type}","request_id":"fz","data":${data}}`),
        anything.map(
          (d) =>
            `{"type":"hitl_approval_response","data":{"approval_id":"${ids.approval}","action":"edit","edits":${d}}}`,
        ),
      );
      await fc.assert(
        fc.asyncProperty(frame, async (text) => {
          ws.ws.send(text);
          // The socket answers what follows: it is open and kept up.
          const pong = await ws.request('ping');
          if (pong.type !== 'pong') throw new Error(`no pong after ${text.slice(0, 200)}`);
        }),
        { seed: SEED, numRuns: Math.ceil(RUNS / 2), endOnFailure: true },
      );
      const internal = ws.frames.filter((f) => f.data?.['code'] === 'internal_error');
      expect(internal).toEqual([]);
      expect(ws.ws.readyState).toBe(ws.ws.OPEN);
    } finally {
      ws.close();
      await hub.close();
      await server.close();
    }
  });

  afterAll(async () => {
    // Checked here, after both properties: every run the fuzzing created still replays exactly.
    created.add(ids.run);
    for (const id of created) {
      const res = await t.call('GET', `/hitl/runs/${id}/verify`);
      if (res.json.consistent !== true) throw new Error(`run ${id} is not verify-consistent: ${res.text}`);
    }
    const ready = await t.call('GET', '/readyz', { token: null });
    if (ready.status !== 200) throw new Error(`not ready after fuzzing: ${ready.status}`);
  });
});
