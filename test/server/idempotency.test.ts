import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { codeOf, echoInput, type TestApp, testApp } from './support.ts';

let db: TestDatabase;
let a: TestApp;
let b: TestApp;

beforeAll(async () => {
  db = await createTestDatabase();
  // Two nodes on one database, as behind a load balancer.
  a = testApp(db);
  b = testApp(db);
});
afterAll(async () => {
  await a.close();
  await b.close();
  await db.drop();
});

async function runCount(): Promise<number> {
  const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from runs`;
  return row?.n ?? -1;
}

describe('Idempotency-Key across nodes', () => {
  it('creates one run when requests with one key race on two nodes; the others replay it', async () => {
    const before = await runCount();
    const body = { run_input: echoInput({ prompt: 'race' }), hitl_config: { policy: 'require_human' } };
    const headers = { 'Idempotency-Key': 'race-key-1' };
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 === 0 ? a : b).call('POST', '/hitl/run', { body, headers }),
      ),
    );
    expect(answers.map((r) => r.status)).toEqual(Array(10).fill(201));
    const ids = new Set(answers.map((r) => r.json.run_id));
    expect(ids.size).toBe(1);
    expect(answers.filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(9);
    expect(await runCount()).toBe(before + 1);
  });

  it('releases the key of a request that failed, so it can be retried', async () => {
    const headers = { 'Idempotency-Key': 'retry-after-failure' };
    const failing = {
      run_input: { prompt: 'p', agent_tool_config: { 'replicate-agent-tool': { name: 'o/m' } } },
    };
    const first = await a.call('POST', '/hitl/run', { body: failing, headers });
    expect(first.status).toBe(400);
    expect(codeOf(first.json)).toBe('provider_not_configured');
    const second = await b.call('POST', '/hitl/run', { body: { run_input: echoInput() }, headers });
    expect(second.status).toBe(201);
    expect(second.headers.get('idempotent-replayed')).toBeNull();
  });
});
