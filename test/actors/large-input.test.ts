import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { approveToEnd, createLargeRun, testHost } from '../support/host.ts';

// Write volume follows the change (issue 7): a run with a large prompt writes the prompt once,
// whatever the number of commits; every read, the replay and `verify` see it whole.

let db: TestDatabase;
let h: ReturnType<typeof testHost>;
let other: ReturnType<typeof testHost>;

beforeAll(async () => {
  db = await createTestDatabase();
  h = testHost(db);
  // A second node with a cache of its own: it reads the run from Postgres.
  other = testHost(db);
  h.host.start();
});
afterAll(async () => {
  await h.host.stop(1000);
  await db.drop();
});

describe('a run with a 300 kB prompt', () => {
  it('stores the prompt once, reads back whole on any node, and verifies', async () => {
    const { prompt, id } = await createLargeRun(h.host);
    const done = await approveToEnd(h.host, id, 2);
    expect(done.final_result).toEqual({ prompt });

    const [sizes] = await db.sql<{ envelope: number; view: number; events: number; approvals: number }[]>`
      select octet_length(r.envelope::text) as envelope, octet_length(r.view::text) as view,
             (select sum(octet_length(e.payload::text)) from run_events e where e.run_id = r.run_id)::int as events,
             (select sum(octet_length(a.approval::text)) from approvals a where a.run_id = r.run_id)::int as approvals
        from runs r where r.run_id = ${id}`;
    const blobs = await db.sql<{ size: number }[]>`
      select octet_length(body) as size from run_blobs where run_id = ${id}`;
    // The prompt (and the echo's identical result) is one blob; nothing else holds it.
    expect(blobs.map((b) => b.size)).toEqual([prompt.length]);
    expect(sizes?.envelope).toBeLessThan(30_000);
    expect(sizes?.view).toBeLessThan(30_000);
    expect(sizes?.events).toBeLessThan(60_000);
    expect(sizes?.approvals).toBeLessThan(30_000);

    // Another node (no local copy, no shared cache) rebuilds it from Postgres.
    const there = await other.host.read(id);
    expect(there && other.host.view(there)).toMatchObject({ status: 'completed', final_result: { prompt } });
    expect((await other.host.verify(id)).consistent).toBe(true);
    const events = await other.host.listEvents(id, 0, 100);
    expect(events[0]?.payload).toMatchObject({ original_input: { prompt } });
  });
});
