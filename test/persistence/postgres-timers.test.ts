import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connectPostgres, createPostgresStore } from '../../persistence/postgres.ts';
import type { RunStore, TimerSpec } from '../../persistence/types.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { approvalRow, inMs, newRun } from '../support/store-fixtures.ts';

let db: TestDatabase;
let nodeA: RunStore;
let nodeB: RunStore;

beforeAll(async () => {
  db = await createTestDatabase();
  nodeA = createPostgresStore(db.sql);
  nodeB = createPostgresStore(connectPostgres(db.url, { max: 10 }));
});

afterAll(async () => {
  await nodeB?.close();
  await db?.drop();
});

// Every test starts from no timers, so "everything due" means this test's timers.
beforeEach(async () => {
  await db.sql`delete from timers`;
});

async function runWithTimers(timers: TimerSpec[]): Promise<string> {
  const run = newRun({ timers });
  await nodeA.createRun(run);
  return run.record.run_id;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('durable timers', () => {
  it('gives each due timer to exactly one of 20 parallel claimers on two nodes', async () => {
    for (let r = 0; r < 10; r++) {
      await runWithTimers(
        Array.from({ length: 6 }, (_, i) => ({ kind: 'poll', key: `k${i}`, fire_at: inMs(-1000 - i) })),
      );
    }
    await runWithTimers([{ kind: 'deadline', key: 'later', fire_at: inMs(60_000) }]);
    const claimed: string[] = [];
    const claimer = async (n: number) => {
      const store = n % 2 === 0 ? nodeA : nodeB;
      for (;;) {
        const batch = await store.claimDueTimers(`node-${n}`, 3, 30_000);
        if (batch.length === 0) return;
        claimed.push(...batch.map((t) => t.id));
      }
    };
    await Promise.all(Array.from({ length: 20 }, (_, n) => claimer(n)));
    expect(claimed).toHaveLength(60);
    expect(new Set(claimed).size).toBe(60);
    expect(await nodeA.claimDueTimers('late', 100, 30_000)).toEqual([]);
  });

  it('returns due timers oldest first with their run and kind', async () => {
    const runId = await runWithTimers([
      { kind: 'retry', key: 'r', fire_at: inMs(-10) },
      { kind: 'deadline', key: 'd', fire_at: inMs(-500) },
    ]);
    const due = await nodeA.claimDueTimers('n', 10, 30_000);
    expect(due.map((t) => [t.kind, t.key, t.run_id, t.attempts])).toEqual([
      ['deadline', 'd', runId, 0],
      ['retry', 'r', runId, 0],
    ]);
    expect(due[0]?.fire_at).toMatch(/Z$/);
  });

  it('gives an expired claim out again with attempts counted', async () => {
    await runWithTimers([{ kind: 'poll', key: 'p', fire_at: inMs(-10) }]);
    const [first] = await nodeA.claimDueTimers('dies', 10, 50);
    expect(first?.attempts).toBe(0);
    expect(await nodeB.claimDueTimers('waits', 10, 30_000)).toEqual([]);
    await sleep(120);
    const [again] = await nodeB.claimDueTimers('survivor', 10, 30_000);
    expect(again).toMatchObject({ id: first?.id, attempts: 1 });
  });

  it('reschedules (clearing the claim) and completes', async () => {
    await runWithTimers([{ kind: 'poll', key: 'p', fire_at: inMs(-10) }]);
    const [timer] = await nodeA.claimDueTimers('n', 10, 30_000);
    const id = timer?.id ?? '';
    await nodeA.rescheduleTimer(id, inMs(60_000));
    expect(await nodeA.claimDueTimers('n', 10, 30_000)).toEqual([]);
    await nodeA.rescheduleTimer(id, inMs(-1));
    expect(await nodeB.claimDueTimers('m', 10, 30_000)).toMatchObject([{ id, attempts: 0 }]);
    await nodeB.completeTimer(id);
    await nodeA.rescheduleTimer(id, inMs(-1));
    expect(await nodeA.claimDueTimers('n', 10, 30_000)).toEqual([]);
    // Ids that cannot exist are a no-op, not an error.
    await nodeA.completeTimer('nope');
  });

  it('keeps standalone approval timers without a run id', async () => {
    const approval = approvalRow();
    await nodeA.createApproval(approval, {
      kind: 'approval_deadline',
      key: approval.approval_id,
      fire_at: inMs(-1),
    });
    expect(await nodeA.claimDueTimers('n', 10, 30_000)).toMatchObject([
      { run_id: null, kind: 'approval_deadline', key: approval.approval_id },
    ]);
  });
});
