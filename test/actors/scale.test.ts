import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunHost } from '../../actors/run-host.ts';
import { type HostChild, killAllChildren, spawnHostChild } from '../support/child.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { approvalOf, eventually, expectSound, waitForChildView } from '../support/durability.ts';
import { isStatus, testHost } from '../support/host.ts';

const RUNS = 10_000;
const CONCURRENCY = 50;
const MAX_LIVE = 500;
const RSS_LIMIT = 200 * 1024 * 1024;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

let db: TestDatabase;
let child: HostChild;
let verifier: RunHost;

beforeAll(async () => {
  db = await createTestDatabase();
  verifier = testHost(db).host;
  // A long lease: this test is about memory, not recovery.
  child = await spawnHostChild({
    DATABASE_URL: db.url,
    NODE_ID: 'scale',
    MAX_LIVE_RUNS: MAX_LIVE,
    LEASE_MS: 15_000,
  });
  const idle = await child.stats();
  console.log(`scale: idle child rss ${mb(idle.rss)}, heap ${mb(idle.heap_used)}`);
});
afterAll(async () => {
  await killAllChildren();
  await db?.drop();
});

describe('a node with many runs waiting for humans', () => {
  it(`keeps at most ${MAX_LIVE} runs in memory while ${RUNS} wait, and any of them can still be decided`, async () => {
    const started = Date.now();
    const ids: string[] = new Array(RUNS);
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < RUNS) {
          const i = next++;
          ids[i] = await child.create(
            { policy: 'require_human', allowed_steps: ['information_review'] },
            { prompt: `scale run ${i}` },
          );
        }
      }),
    );
    const created = Date.now() - started;
    const waiting = await eventually(
      'every run to wait for a human',
      async () => {
        const [row] = await db.sql<
          { n: number }[]
        >`select count(*)::int as n from runs where status = 'awaiting_human'`;
        return row?.n === RUNS ? row.n : undefined;
      },
      120_000,
      250,
    );
    const settled = Date.now() - started;
    const stats = await child.stats();
    console.log(
      `scale: ${RUNS} runs created in ${created} ms (${Math.round((RUNS / created) * 1000)}/s), ` +
        `all ${waiting} awaiting_human after ${settled} ms; child rss ${mb(stats.rss)}, heap ${mb(stats.heap_used)}, ` +
        `live runs ${stats.live}`,
    );
    expect(stats.live).toBeLessThanOrEqual(MAX_LIVE);
    expect(stats.rss).toBeLessThan(RSS_LIMIT);

    // The first run left memory long ago; 20 others at random.
    const sample = [ids[0]!, ...Array.from({ length: 20 }, () => ids[Math.floor(Math.random() * RUNS)]!)];
    const decidedAt = Date.now();
    await Promise.all(
      [...new Set(sample)].map(async (runId) => {
        const open = approvalOf(await child.view(runId));
        await child.decide(runId, open.approval_id, 'approve');
        const done = await waitForChildView(child, runId, isStatus('completed'), 20_000);
        expect(done.final_result).toMatchObject({ prompt: expect.stringMatching(/^scale run \d+$/) });
        await expectSound(db, verifier, runId);
      }),
    );
    const after = await child.stats();
    console.log(
      `scale: ${new Set(sample).size} sampled runs decided to completion in ${Date.now() - decidedAt} ms; ` +
        `child rss ${mb(after.rss)}, heap ${mb(after.heap_used)}, live runs ${after.live}`,
    );
    expect(after.live).toBeLessThanOrEqual(MAX_LIVE);
    expect(after.rss).toBeLessThan(RSS_LIMIT);
  }, 240_000);
});
