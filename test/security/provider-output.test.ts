import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awaitEnd, type TestApp, testApp } from '../server/support.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { type FakeReplicate, startFakeReplicate } from '../support/fake-replicate.ts';

/** SPEC §7: what a provider returns is stored even with NUL / lone surrogates (escaped, noted). */

let db: TestDatabase;
let fake: FakeReplicate;
let t: TestApp;

beforeAll(async () => {
  db = await createTestDatabase();
  fake = await startFakeReplicate();
  t = testApp(db, { replicateUrl: fake.url });
});
afterAll(async () => {
  await t.close();
  await fake.close();
  await db.drop();
});

async function run(): Promise<string> {
  const res = await t.call('POST', '/hitl/run', {
    body: {
      run_input: {
        prompt: 'p',
        agent_tool_config: {
          'replicate-agent-tool': { data: { name: 'acme/w', version: 'v1', example_input: { prompt: '' } } },
        },
      },
    },
  });
  expect(res.status, res.text).toBe(201);
  return String(res.json.run_id);
}

describe('a provider output holding NUL bytes or lone surrogates', () => {
  it('completes the run, stored escaped and noted in the event; the run verifies', async () => {
    fake.script({ kind: 'succeed', output: ['a\u0000b', 'lone \ud800 half', { 'k\u0000ey': 'x\udc00' }] });
    const id = await run();
    const done = await awaitEnd(t, id);
    expect(done.status).toBe('completed');
    expect(done.final_result).toEqual(['a\\u0000b', 'lone \\ud800 half', { 'k\\u0000ey': 'x\\udc00' }]);
    const events = (await t.call('GET', `/hitl/runs/${id}/events?limit=1000`)).json.events as Array<
      Record<string, unknown>
    >;
    const succeeded = events.find((e) => e.type === 'prediction.succeeded');
    expect(succeeded?.message).toMatch(/escaped in/);
    expect((succeeded?.payload as { escaped?: string[] } | undefined)?.escaped).toEqual(
      expect.arrayContaining(['output[0]', 'output[1]', 'output[2].k\\u0000ey']),
    );
    expect((await t.call('GET', `/hitl/runs/${id}/verify`)).json.consistent).toBe(true);
  });

  it('an output nested thousands of levels deep is cut (noted), and the run completes', async () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 3000; i++) deep = [deep];
    fake.script({ kind: 'succeed', output: deep });
    const id = await run();
    const done = await awaitEnd(t, id);
    expect(done.status).toBe('completed');
    expect(JSON.stringify(done.final_result)).toContain('nested deeper than 256 levels: cut');
    expect((await t.call('GET', `/hitl/runs/${id}/verify`)).json.consistent).toBe(true);
  });

  it('a failed prediction whose error holds NUL fails the run cleanly', async () => {
    fake.script({ kind: 'fail', error: 'bad \u0000 thing' });
    const id = await run();
    const done = await awaitEnd(t, id);
    expect(done.status).toBe('failed');
    expect(JSON.stringify(done.error)).toContain('bad \\\\u0000 thing');
  });
});
