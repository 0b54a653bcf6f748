import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { approvalOf, expectSound } from '../support/durability.ts';
import { createRun, isStatus, testHost, waitForView } from '../support/host.ts';

/** SPEC §8 upgrades: runs stored by machine version 1 keep working under version 2. */

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

/** Rewrite a stored run as version 1 stored it: no step-failure fields in its context. */
async function storeAsVersion1(runId: string): Promise<void> {
  await db.sql`
    update runs
       set envelope = jsonb_build_object(
             'machine_version', 1,
             'snapshot', jsonb_set(envelope::jsonb->'snapshot', '{context}',
                                   (envelope::jsonb->'snapshot'->'context') - 'work_failures' - 'work_retry_at'))
     where run_id = ${runId}`;
}

describe('a run stored by machine version 1', () => {
  it('verifies as consistent, waiting or finished, and a waiting one is decided to completion', async () => {
    const before = testHost(db).host;
    before.start();
    const waiting = (await createRun(before, { policy: 'require_human' })).snapshot.context.run_id;
    const finished = (await createRun(before, { policy: 'auto' })).snapshot.context.run_id;
    await waitForView(before, waiting, isStatus('awaiting_human'));
    await waitForView(before, finished, isStatus('completed'));
    await before.stop(1000);
    await storeAsVersion1(waiting);
    await storeAsVersion1(finished);

    // A node of the new version, with nothing cached.
    const after = testHost(db).host;
    after.start();
    try {
      for (const runId of [waiting, finished])
        expect(await after.verify(runId)).toMatchObject({ consistent: true });
      let view = await waitForView(after, waiting, isStatus('awaiting_human'));
      for (let i = 0; i < 3 && view.status === 'awaiting_human'; i++) {
        await after.decide(
          waiting,
          { approval_id: approvalOf(view).approval_id, action: 'approve' },
          'user:u1',
        );
        view = await waitForView(after, waiting, (v) => v.status !== 'running');
      }
      expect(view.status).toBe('completed');
      await expectSound(db, after, waiting);
      const [row] = await db.sql<{ v: number }[]>`
        select (envelope->>'machine_version')::int as v from runs where run_id = ${waiting}`;
      expect(row?.v).toBe(2);
    } finally {
      await after.stop(1000);
    }
  }, 30_000);
});
