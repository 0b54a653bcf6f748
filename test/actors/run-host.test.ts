import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HitlError } from '../../actors/errors.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { createRun, isStatus, testHost, waitForView } from '../support/host.ts';

let db: TestDatabase;
let h: ReturnType<typeof testHost>;

beforeAll(async () => {
  db = await createTestDatabase();
  h = testHost(db);
  h.host.start();
});
afterAll(async () => {
  await h.host.stop(1000);
  await db.drop();
});

describe('the run host on the real Postgres', () => {
  it('runs an auto echo run to completion with the payload as the result', async () => {
    const run = await createRun(h.host, { policy: 'auto' });
    const view = await waitForView(h.host, run.snapshot.context.run_id, isStatus('completed'));
    expect(view.final_result).toEqual({ prompt: 'a red fox in the snow' });
    const verify = await h.host.verify(run.snapshot.context.run_id);
    expect(verify.consistent).toBe(true);
  });

  it('stops at payload review, takes an edit, and sends exactly the edited payload', async () => {
    const run = await createRun(h.host, { policy: 'require_human', allowed_steps: ['payload_review'] });
    const runId = run.snapshot.context.run_id;
    const waiting = await waitForView(h.host, runId, isStatus('awaiting_human'));
    const approval = waiting.approval as { approval_id: string; checkpoint_type: string };
    expect(approval.checkpoint_type).toBe('payload_review');
    await h.host.decide(
      runId,
      { approval_id: approval.approval_id, action: 'edit', edits: { payload: { prompt: 'a blue fox' } } },
      'user:u1',
    );
    const done = await waitForView(h.host, runId, isStatus('completed'));
    expect(done.final_result).toEqual({ prompt: 'a blue fox' });
    const events = await h.host.listEvents(runId, 0, 100);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.map((e) => e.type)).toContain('approval.opened');
    expect((await h.host.verify(runId)).consistent).toBe(true);
  });

  it('refuses a second decision on the same approval with approval_not_pending', async () => {
    // A second checkpoint keeps the run open: the refusal is about the approval, not a finished run.
    const run = await createRun(h.host, {
      policy: 'require_human',
      allowed_steps: ['information_review', 'payload_review'],
    });
    const runId = run.snapshot.context.run_id;
    const waiting = await waitForView(h.host, runId, isStatus('awaiting_human'));
    const id = (waiting.approval as { approval_id: string }).approval_id;
    await h.host.decide(runId, { approval_id: id, action: 'approve' }, 'user:u1');
    const again = h.host.decide(runId, { approval_id: id, action: 'approve' }, 'user:u1');
    await expect(again).rejects.toMatchObject({ code: 'approval_not_pending' });
    await expect(again).rejects.toBeInstanceOf(HitlError);
  });

  it('expires a checkpoint through its durable deadline', async () => {
    const run = await createRun(h.host, { policy: 'require_human', timeout_seconds: 1 });
    const runId = run.snapshot.context.run_id;
    const view = await waitForView(h.host, runId, isStatus('expired'), 8000);
    expect((view.error as { code: string }).code).toBe('expired');
    expect((await h.host.verify(runId)).consistent).toBe(true);
  });

  it('lets no StoreError out: a foreign list cursor is invalid_request, an unknown run run_not_found', async () => {
    const err = await h.host.listRuns({}, 10, 'not-a-cursor-we-issued').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HitlError);
    expect(err).toMatchObject({ code: 'invalid_request', details: { fields: ['cursor'] } });
    const events = await h.host.listEvents(crypto.randomUUID(), 0, 10);
    expect(events).toEqual([]);
    const missing = await h.host
      .decide(crypto.randomUUID(), { approval_id: crypto.randomUUID(), action: 'approve' }, 'user:u1')
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(HitlError);
    expect(missing).toMatchObject({ code: 'run_not_found' });
  });
});
