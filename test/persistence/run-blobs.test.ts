import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BLOB_MIN_CHARS } from '../../persistence/blobs.ts';
import { connectPostgres, createPostgresStore } from '../../persistence/postgres.ts';
import type { RunStore } from '../../persistence/types.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { approvalRow, commitOf, eventRow, newRun } from '../support/store-fixtures.ts';

// Long strings are written once per run (`run_blobs`) and referenced from the snapshot, the view
// and the events: a commit writes the change, not the input again; every read gets it back exact.

let db: TestDatabase;
let store: RunStore;
let other: RunStore;

beforeAll(async () => {
  db = await createTestDatabase();
  store = createPostgresStore(db.sql);
  // A second pool stands for a second node (it knows nothing of what the first one stored).
  other = createPostgresStore(connectPostgres(db.url, { max: 3 }));
});

afterAll(async () => {
  await other?.close();
  await db?.drop();
});

const big = (n = 200_000) =>
  randomBytes(Math.ceil(n * 0.75))
    .toString('base64')
    .slice(0, n);
// A string that looks like the service's own reference, and one like its escape.
const TRICKY = ['\u0001hitl:blob:abc', '\u0001hitl:str:x', '\u0001hitl:', '\u0001'];

const stored = async (runId: string) => {
  const [row] = await db.sql<{ envelope: number; view: number }[]>`
    select octet_length(envelope::text) as envelope, octet_length(view::text) as view
      from runs where run_id = ${runId}`;
  const blobs = await db.sql<{ sha256: string; size: number }[]>`
    select sha256, octet_length(body) as size from run_blobs where run_id = ${runId}`;
  const events = await db.sql<{ size: number }[]>`
    select octet_length(payload::text) as size from run_events where run_id = ${runId} order by seq`;
  return { row, blobs, events };
};

describe('long strings are stored once per run', () => {
  it('a large input in snapshot, view and events is written once, and read back exactly', async () => {
    const prompt = big();
    const input = { prompt, copies: [prompt, prompt], tricky: TRICKY, short: 'x' };
    const run = newRun({
      envelope: { machine_version: 1, snapshot: { value: 'created', context: { input, again: prompt } } },
      view: { status: 'queued', original_input: input },
    });
    run.events[0] = { ...(run.events[0] as (typeof run.events)[0]), payload: { original_input: input } };
    const id = run.record.run_id;
    await store.createRun(run);

    // Four commits through the group commit, each repeating the input in snapshot and view.
    let seq = 1;
    for (let i = 0; i < 4; i++) {
      const change = commitOf(id, seq, 1, {
        envelope: { machine_version: 1, snapshot: { value: 'running', context: { input, i } } },
        view: { status: 'running', original_input: input, payload: { prompt }, i },
      });
      const [refused] = await store.commitBatch([{ kind: 'commit', change }]);
      expect(refused).toBeNull();
      seq += 1;
    }

    const s = await stored(id);
    expect(s.blobs).toHaveLength(1);
    expect(s.blobs[0]?.size).toBe(prompt.length);
    // The row and the events hold references, not the 200 kB string.
    expect(s.row?.envelope).toBeLessThan(2_000);
    expect(s.row?.view).toBeLessThan(2_000);
    for (const e of s.events) expect(e.size).toBeLessThan(2_000);

    const got = await store.getRun(id);
    expect(got?.seq).toBe(5);
    expect(got?.envelope).toEqual({
      machine_version: 1,
      snapshot: { value: 'running', context: { input, i: 3 } },
    });
    expect(got?.view).toEqual({ status: 'running', original_input: input, payload: { prompt }, i: 3 });
    const events = await store.listEvents(id, 0, 10);
    expect(events[0]?.payload).toEqual({ original_input: input });
    // Another node reads the same.
    expect((await other.getRun(id))?.view).toEqual(got?.view);
    const page = await store.listRuns({}, 100, null);
    expect(page.items.find((r) => r.run_id === id)?.view).toEqual(got?.view);
  });

  it('strings shorter than the threshold, and ones that look like references, are stored as they are', async () => {
    const short = 'y'.repeat(BLOB_MIN_CHARS - 1);
    const run = newRun({
      envelope: { machine_version: 1, snapshot: { value: 'created', context: { short, tricky: TRICKY } } },
      view: { status: 'queued', tricky: TRICKY },
    });
    await store.createRun(run);
    const id = run.record.run_id;
    expect((await stored(id)).blobs).toHaveLength(0);
    const got = await store.getRun(id);
    expect(got?.envelope).toEqual(run.record.envelope);
    expect(got?.view).toEqual(run.record.view);
  });

  it('a run refused in a batch stores no blob; its retry, and another node, store it once', async () => {
    const a = newRun();
    const b = newRun();
    await store.createRun(a);
    await store.createRun(b);
    const prompt = big(50_000);
    const withPrompt = (id: string, expected: number) =>
      commitOf(id, expected, 1, {
        envelope: { machine_version: 1, snapshot: { value: 'running', context: { prompt } } },
        view: { status: 'running', prompt },
      });
    // b's change is computed from a stale seq: refused, a commits.
    const results = await store.commitBatch([
      { kind: 'commit', change: withPrompt(a.record.run_id, 1) },
      { kind: 'commit', change: withPrompt(b.record.run_id, 7) },
    ]);
    expect(results[0]).toBeNull();
    expect(results[1]).toMatchObject({ code: 'seq_conflict' });
    expect((await stored(b.record.run_id)).blobs).toHaveLength(0);
    expect((await store.getRun(b.record.run_id))?.view).toEqual(b.record.view);
    // Retried on fresh state: the blob goes with it.
    expect(await store.commitBatch([{ kind: 'commit', change: withPrompt(b.record.run_id, 1) }])).toEqual([
      null,
    ]);
    expect((await store.getRun(b.record.run_id))?.view).toEqual({ status: 'running', prompt });
    // The other node's commit of a (it never saw the blob go out) sends it again: no duplicate.
    const change = { ...withPrompt(a.record.run_id, 2), events: [eventRow(a.record.run_id, 3)] };
    expect(await other.commitBatch([{ kind: 'commit', change }])).toEqual([null]);
    expect((await stored(a.record.run_id)).blobs).toHaveLength(1);
    expect((await other.getRun(a.record.run_id))?.view).toEqual({ status: 'running', prompt });
  });

  it('the single-commit path stores and reads the same way', async () => {
    const prompt = big(20_000);
    const run = newRun({ view: { status: 'queued', prompt } });
    await store.createRun(run);
    const id = run.record.run_id;
    await store.commit(commitOf(id, 1, 2, { view: { status: 'running', prompt, more: [prompt] } }));
    const s = await stored(id);
    expect(s.blobs).toHaveLength(1);
    expect(s.row?.view).toBeLessThan(1_000);
    expect((await store.getRun(id))?.view).toEqual({ status: 'running', prompt, more: [prompt] });
  });

  it("a run's approvals reference its long strings; standalone approvals are stored as they are", async () => {
    const prompt = big(30_000);
    const run = newRun();
    await store.createRun(run);
    const id = run.record.run_id;
    const approval = approvalRow({ run_id: id });
    const longReviewer = 'r'.repeat(BLOB_MIN_CHARS + 10);
    approval.approval = {
      ...approval.approval,
      context: { payload: { prompt }, tricky: TRICKY },
      // Reviewers stay as written whatever they hold: SQL filters on them.
      reviewers: { user_ids: ['alice', longReviewer, ...TRICKY], roles: ['reviewer'] },
    };
    // Only the approval holds the prompt: its blob is written all the same.
    const change = commitOf(id, 1, 1, { approvals: [approval] });
    expect(await store.commitBatch([{ kind: 'commit', change }])).toEqual([null]);
    const [size] = await db.sql<{ n: number }[]>`
      select octet_length(approval::text) as n from approvals where approval_id = ${approval.approval_id}`;
    // The 30 kB prompt is a reference; only the (inline) long reviewer id is left.
    expect(size?.n).toBeLessThan(2_000 + longReviewer.length);
    expect((await store.getApproval(approval.approval_id))?.approval).toEqual(approval.approval);
    const pending = await store.listPendingApprovals({ run_id: id }, 10, null);
    expect(pending.items[0]?.approval).toEqual(approval.approval);
    for (const sub of [longReviewer, TRICKY[0] as string]) {
      const mine = await store.listPendingApprovals({ run_id: id, reviewer: { sub, roles: [] } }, 10, null);
      expect(mine.items.map((a) => a.approval_id)).toEqual([approval.approval_id]);
    }

    const standalone = approvalRow();
    standalone.approval = { ...standalone.approval, tricky: TRICKY };
    await store.createApproval(standalone, {
      kind: 'approval_deadline',
      key: standalone.approval_id,
      fire_at: standalone.expires_at,
    });
    expect((await store.getApproval(standalone.approval_id))?.approval).toEqual(standalone.approval);
  });
});
