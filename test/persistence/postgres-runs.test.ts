import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectPostgres, createPostgresStore } from '../../persistence/postgres.ts';
import type { RunStore } from '../../persistence/types.ts';
import { StoreError } from '../../persistence/types.ts';
import { createTestDatabase, storeOnTestDatabase, type TestDatabase } from '../support/db.ts';
import { approvalRow, commitOf, eventRow, inMs, newRun } from '../support/store-fixtures.ts';

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

let db: TestDatabase;
let store: RunStore;
let other: RunStore;

beforeAll(async () => {
  db = await createTestDatabase();
  store = createPostgresStore(db.sql);
  // A second pool stands for a second node.
  other = createPostgresStore(connectPostgres(db.url, { max: 5 }));
});

afterAll(async () => {
  await other?.close();
  await db?.drop();
});

const codeOf = (r: PromiseSettledResult<unknown>) =>
  r.status === 'rejected' && r.reason instanceof StoreError ? r.reason.code : r.status;

describe('creating and reading runs', () => {
  it('reads back a created run with ISO times and JSON as objects', async () => {
    const run = newRun();
    await store.createRun(run);
    const got = await store.getRun(run.record.run_id);
    expect(got).toMatchObject({ ...run.record, owner: 'node-a' });
    expect(got?.created_at).toMatch(ISO_MS);
    expect(got?.lease_until).toMatch(ISO_MS);
    expect(got?.envelope).toEqual(run.record.envelope);
  });

  it('returns null for unknown and malformed run ids', async () => {
    expect(await store.getRun(randomUUID())).toBeNull();
    expect(await store.getRun('not-a-uuid')).toBeNull();
    expect(await store.listEvents('not-a-uuid', 0, 10)).toEqual([]);
  });

  it('refuses to create the same run twice', async () => {
    const run = newRun();
    await store.createRun(run);
    await expect(store.createRun(run)).rejects.toMatchObject({ code: 'seq_conflict' });
  });
});

describe('committing', () => {
  it('lets exactly one of two racing commits with the same expected seq win', async () => {
    for (let round = 0; round < 10; round++) {
      const run = newRun();
      await store.createRun(run);
      const id = run.record.run_id;
      const results = await Promise.allSettled([
        store.commit(commitOf(id, 1, 2)),
        other.commit(commitOf(id, 1, 1)),
      ]);
      expect(results.map(codeOf).sort()).toEqual(['fulfilled', 'seq_conflict']);
      const events = await store.listEvents(id, 0, 100);
      expect(events.map((e) => e.seq)).toEqual(Array.from({ length: events.length }, (_, i) => i + 1));
      expect((await store.getRun(id))?.seq).toBe(events.length);
    }
  });

  it('keeps the event log gap-free and reads it back in order with ISO times', async () => {
    const run = newRun();
    await store.createRun(run);
    const id = run.record.run_id;
    let seq = 1;
    for (const count of [3, 1, 4]) {
      await store.commit(commitOf(id, seq, count));
      seq += count;
    }
    const events = await store.listEvents(id, 0, 100);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const e of events) expect(e.created_at).toMatch(ISO_MS);
    expect(events[3]).toEqual(expect.objectContaining({ payload: eventRow(id, 4).payload, derived: false }));
    expect((await store.listEvents(id, 6, 2)).map((e) => e.seq)).toEqual([7, 8]);
    const stored = await store.getRun(id);
    expect(stored).toMatchObject({ seq: 9, status: 'running', current_step: 'api_call', view: { seq: 9 } });
  });

  it('refuses a stale expected seq and an unknown run', async () => {
    const run = newRun();
    await store.createRun(run);
    await expect(store.commit(commitOf(run.record.run_id, 0))).rejects.toMatchObject({
      code: 'seq_conflict',
    });
    await expect(store.commit(commitOf(randomUUID(), 1))).rejects.toMatchObject({ code: 'not_found' });
  });

  it('refuses a take-over while the lease is live and allows it after expiry', async () => {
    const run = newRun({ owner: 'node-a' });
    await store.createRun(run);
    const id = run.record.run_id;
    const takeOver = (seq: number) => commitOf(id, seq, 1, { owner: 'node-b', require_lease_expired: true });
    await expect(other.commit(takeOver(1))).rejects.toMatchObject({ code: 'lease_held' });
    // The owner itself may always commit, and here shortens its lease to 50 ms.
    await store.commit(commitOf(id, 1, 1, { owner: 'node-a', lease_ms: 50, require_lease_expired: true }));
    await new Promise((r) => setTimeout(r, 120));
    expect(await store.expiredLeases(1000)).toContain(id);
    await other.commit(takeOver(2));
    expect(await store.getRun(id)).toMatchObject({ owner: 'node-b', seq: 3 });
    expect(await store.expiredLeases(1000)).not.toContain(id);
  });

  it('renews only the leases a node owns', async () => {
    const mine = newRun({ owner: 'node-a' });
    const theirs = newRun({ owner: 'node-b' });
    await store.createRun(mine);
    await store.createRun(theirs);
    const before = await store.getRun(theirs.record.run_id);
    await store.renewLeases('node-a', [mine.record.run_id, theirs.record.run_id, 'junk'], 600_000);
    const renewed = await store.getRun(mine.record.run_id);
    expect(Date.parse(renewed?.lease_until ?? '')).toBeGreaterThan(Date.now() + 500_000);
    expect((await store.getRun(theirs.record.run_id))?.lease_until).toBe(before?.lease_until);
  });

  it('renews leases without waiting for a row a commit in flight holds (no deadlock with it)', async () => {
    const held = newRun({ owner: 'node-a' });
    const free = newRun({ owner: 'node-a' });
    await store.createRun(held);
    await store.createRun(free);
    const leaseBefore = (await store.getRun(held.record.run_id))?.lease_until;
    const locker = connectPostgres(db.url, { max: 1 });
    try {
      await locker.begin(async (tx) => {
        // Stands for a group commit whose statement has locked the row and not yet committed.
        await tx`update runs set owner = owner where run_id = ${held.record.run_id}`;
        const renewed = await Promise.race([
          store
            .renewLeases('node-a', [held.record.run_id, free.record.run_id], 600_000)
            .then(() => 'renewed'),
          new Promise((r) => setTimeout(() => r('waited'), 3_000)),
        ]);
        expect(renewed).toBe('renewed');
      });
    } finally {
      await locker.end();
    }
    expect(Date.parse((await store.getRun(free.record.run_id))?.lease_until ?? '')).toBeGreaterThan(
      Date.now() + 500_000,
    );
    expect((await store.getRun(held.record.run_id))?.lease_until).toBe(leaseBefore);
  });

  it("sends a commit again when Postgres picks it as a deadlock's victim", async () => {
    const run = newRun();
    await store.createRun(run);
    const id = run.record.run_id;
    const other = connectPostgres(db.url, { max: 1 });
    try {
      let commit: Promise<Array<Error | null>> | undefined;
      await other
        .begin(async (tx) => {
          // This transaction waits longer than the commit before it looks for a deadlock, so the
          // commit (waiting first, after 1 s) is the one Postgres aborts.
          await tx`set local deadlock_timeout = '10s'`;
          await tx`insert into run_events (run_id, seq, type, step, status, actor, message, created_at)
                   values (${id}, 2, 'x', 'created', 'queued', 'system', 'x', now())`;
          // The commit locks the run's row, then waits for this transaction's event seq 2.
          commit = store.commitBatch([{ kind: 'commit', change: commitOf(id, 1, 1) }]);
          await new Promise((r) => setTimeout(r, 300));
          // Now this one waits for the run's row: a cycle.
          await tx`update runs set owner = owner where run_id = ${id}`;
          throw new Error('roll back');
        })
        .catch((e: unknown) => {
          if (!(e instanceof Error) || e.message !== 'roll back') throw e;
        });
      expect(await commit).toEqual([null]);
    } finally {
      await other.end();
    }
    expect((await store.getRun(id))?.seq).toBe(2);
    expect((await store.listEvents(id, 0, 10)).map((e) => e.seq)).toEqual([1, 2]);
  });

  it('syncs timers: existing ones keep fire_at, missing ones go, new ones come', async () => {
    const first = inMs(60_000);
    const run = newRun({ timers: [{ kind: 'deadline', key: 'a1', fire_at: first }] });
    await store.createRun(run);
    const id = run.record.run_id;
    const timersOf = () =>
      db.sql<{ kind: string; key: string; fire_at: Date }[]>`
        select kind, key, fire_at from timers where owner_id = ${id} order by kind, key`;
    const poll = inMs(5_000);
    await store.commit(
      commitOf(id, 1, 1, {
        timers: [
          { kind: 'deadline', key: 'a1', fire_at: inMs(999_000) },
          { kind: 'poll', key: 'p1', fire_at: poll },
        ],
      }),
    );
    expect((await timersOf()).map((t) => [t.kind, t.key, t.fire_at.toISOString()])).toEqual([
      ['deadline', 'a1', first],
      ['poll', 'p1', poll],
    ]);
    await store.commit(commitOf(id, 2, 1, { timers: [{ kind: 'poll', key: 'p1', fire_at: inMs(1) }] }));
    expect((await timersOf()).map((t) => t.key)).toEqual(['p1']);
    await store.commit(commitOf(id, 3, 1, { timers: [] }));
    expect(await timersOf()).toEqual([]);
  });

  it('upserts the approvals written with a commit', async () => {
    const run = newRun();
    await store.createRun(run);
    const id = run.record.run_id;
    const approval = approvalRow({ run_id: id, checkpoint_type: 'payload_review', envelope: null });
    await store.commit(commitOf(id, 1, 1, { approvals: [approval] }));
    expect(await store.getApproval(approval.approval_id)).toEqual(approval);
    await store.commit(commitOf(id, 2, 1, { approvals: [{ ...approval, status: 'approved' }] }));
    expect(await store.getApproval(approval.approval_id)).toMatchObject({ status: 'approved' });
  });
});

describe('a group commit of values with control characters', () => {
  // The batch sends its JSON values joined by U+001E: one inside a string must not split them.
  const tricky = {
    text: 'a\u001eb\u001e\u001e',
    ctl: '\u0001\u001f\n\t"\\',
    uni: 'é😀\u2028',
    deep: [{ '\u001e': 1 }],
  };

  it('writes a create and commits in one batch and reads every value back exactly', async () => {
    const fresh = newRun({
      envelope: { machine_version: 1, snapshot: { value: 'created', context: { tricky } } },
      view: { status: 'queued', tricky },
    });
    const existing = newRun();
    await store.createRun(existing);
    const id = existing.record.run_id;
    const approval = approvalRow({ run_id: id });
    approval.approval = { ...approval.approval, tricky };
    const change = commitOf(id, 1, 2, {
      envelope: { machine_version: 1, snapshot: { value: 'running', context: { tricky, n: 3 } } },
      view: { status: 'running', tricky },
      approvals: [approval],
    });
    change.events = change.events.map((e) => ({ ...e, payload: { tricky, seq: e.seq } }));
    expect(
      await store.commitBatch([
        { kind: 'create', run: fresh },
        { kind: 'commit', change },
      ]),
    ).toEqual([null, null]);
    const created = await other.getRun(fresh.record.run_id);
    expect(created?.envelope).toEqual(fresh.record.envelope);
    expect(created?.view).toEqual(fresh.record.view);
    const changed = await other.getRun(id);
    expect(changed?.seq).toBe(3);
    expect(changed?.envelope).toEqual(change.envelope);
    expect(changed?.view).toEqual(change.view);
    const events = await other.listEvents(id, 1, 10);
    expect(events.map((e) => e.payload)).toEqual([
      { tricky, seq: 2 },
      { tricky, seq: 3 },
    ]);
    expect((await other.getApproval(approval.approval_id))?.approval).toMatchObject({ tricky });
  });
});

describe('listing runs', () => {
  const session = randomUUID();
  const ids: string[] = [];

  beforeAll(async () => {
    // Five runs one second apart, oldest first; the third has an approval for the role `auditor`.
    for (let i = 0; i < 5; i++) {
      const at = new Date(Date.UTC(2030, 0, 1, 0, 0, i)).toISOString();
      const run = newRun({
        session_id: session,
        user_id: i % 2 === 0 ? 'carol' : 'dave',
        status: i === 4 ? 'completed' : 'queued',
        created_at: at,
      });
      ids.push(run.record.run_id);
      await store.createRun(run);
    }
    const third = ids[2] ?? '';
    const reviewers = { user_ids: [], roles: ['auditor'] };
    const approval = approvalRow({ run_id: third, envelope: null, approval: { reviewers } });
    await store.commit(commitOf(third, 1, 1, { approvals: [approval] }));
  });

  it('pages newest first with opaque cursors and a total', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<RunStore['listRuns']>> = await store.listRuns(
        { session_id: session },
        2,
        cursor,
      );
      expect(page.total).toBe(5);
      seen.push(...page.items.map((r) => r.run_id));
      cursor = page.next_cursor;
    } while (cursor !== null);
    expect(seen).toEqual([...ids].reverse());
  });

  it('filters by user and status', async () => {
    const carol = await store.listRuns({ session_id: session, user_id: 'carol' }, 10, null);
    expect(carol.items.map((r) => r.run_id)).toEqual([ids[4], ids[2], ids[0]]);
    const done = await store.listRuns({ session_id: session, statuses: ['completed', 'failed'] }, 10, null);
    expect(done).toMatchObject({ total: 1, next_cursor: null });
  });

  it('shows a reviewer its own runs and runs it may review; admin sees all', async () => {
    const list = (sub: string, roles: string[]) =>
      store
        .listRuns({ session_id: session, readable_by: { sub, roles } }, 10, null)
        .then((p) => p.items.map((r) => r.run_id));
    expect(await list('dave', [])).toEqual([ids[3], ids[1]]);
    expect(await list('erin', ['auditor'])).toEqual([ids[2]]);
    expect(await list('erin', ['reviewer'])).toEqual([]);
    expect(await list('erin', ['admin'])).toHaveLength(5);
  });

  it('refuses a cursor it did not issue', async () => {
    await expect(store.listRuns({}, 2, 'bm9wZQ')).rejects.toMatchObject({ code: 'invalid_cursor' });
  });
});

describe('one-shot work items (cancels)', () => {
  const kindsOf = async (runId: string) =>
    (
      await db.sql<{ kind: string; key: string }[]>`
        select kind, key from timers where run_id = ${runId} order by kind`
    ).map((t) => `${t.kind}:${t.key}`);

  it.each([
    [
      'a group commit',
      (c: Parameters<RunStore['commit']>[0]) => store.commitBatch([{ kind: 'commit', change: c }]),
    ],
    ['a single commit', (c: Parameters<RunStore['commit']>[0]) => store.commit(c)],
  ])(
    '%s adds them, a later timers sync keeps them, and the commit that finishes one removes it',
    async (_, commit) => {
      const run = newRun();
      await store.createRun(run);
      const id = run.record.run_id;
      const now = new Date().toISOString();
      await commit(
        commitOf(id, 1, 1, {
          timers: [{ kind: 'poll', key: 'p1', fire_at: now }],
          work: [{ kind: 'cancel', key: 'p0', fire_at: now }],
        }),
      );
      expect(await kindsOf(id)).toEqual(['cancel:p0', 'poll:p1']);
      // The state wants no timers any more: the poll goes, the cancel stays until it is done.
      await commit(commitOf(id, 2, 1, { timers: [] }));
      expect(await kindsOf(id)).toEqual(['cancel:p0']);
      const [item] = await db.sql<{ id: string }[]>`select id::text as id from timers where run_id = ${id}`;
      await commit(commitOf(id, 3, 1, { timers_changed: false, work_done: [item?.id ?? ''] }));
      expect(await kindsOf(id)).toEqual([]);
    },
  );
});

describe("a run's envelope and view (migration 00006)", () => {
  // A database of its own: the TOAST table's row count is this test's alone.
  const t = storeOnTestDatabase();

  it('stay in the row, compressed, where they used to go to the TOAST table on every commit', async () => {
    // Strings that compress about as much as a real envelope's (to roughly half): the two
    // values together stay past the 2 kB at which Postgres moves a row's largest value out.
    const noise = (n: number) => Array.from({ length: n }, () => randomUUID().replaceAll('-', ''));
    const envelope = { machine_version: 1, snapshot: { value: 'running', context: { notes: noise(90) } } };
    const view = { status: 'running', history: noise(70) };
    const run = newRun({ envelope, view });
    const id = run.record.run_id;
    await t.store.createRun(run);
    expect(
      await t.store.commitBatch([{ kind: 'commit', change: commitOf(id, 1, 1, { envelope, view }) }]),
    ).toEqual([null]);
    const [sizes] = await t.db.sql<{ envelope: number; view: number }[]>`
      select pg_column_size(envelope) as envelope, pg_column_size(view) as view from runs where run_id = ${id}`;
    // Compressed (the JSON text is about 3 kB and 2.4 kB) and together past 2 kB.
    expect(sizes!.envelope).toBeLessThan(JSON.stringify(envelope).length);
    expect(sizes!.envelope + sizes!.view).toBeGreaterThan(2_100);
    const [toast] = await t.db.sql<{ name: string }[]>`
      select reltoastrelid::regclass::text as name from pg_class where relname = 'runs'`;
    const [count] = await t.db.sql.unsafe<{ n: number }[]>(`select count(*)::int as n from ${toast!.name}`);
    expect(count?.n).toBe(0);
    expect((await t.store.getRun(id))?.envelope).toEqual(envelope);
  });
});

describe('the freshness probe (currentSeqs)', () => {
  it('is planned once per connection, not again on every call', async () => {
    const own = await createTestDatabase();
    // One connection, so that its prepared statements are the ones this session sees.
    const sql = connectPostgres(own.url, { max: 1 });
    const s = createPostgresStore(sql);
    try {
      // A table of some size with statistics: there a custom plan for a known array looked cheaper
      // than the generic plan and Postgres planned the probe again on every call.
      await sql`
        insert into runs (run_id, seq, status, current_step, created_by, envelope, view, created_at, updated_at)
        select gen_random_uuid(), 3, 'completed', 'completed', 'svc', '{}', '{}', now(), now()
          from generate_series(1, 20000)`;
      await sql`analyze runs`;
      const ids = (await sql<{ id: string }[]>`select run_id::text as id from runs limit 40`).map(
        (r) => r.id,
      );
      for (let i = 0; i < 30; i++) {
        const some = ids.slice(i % 10, (i % 10) + 1 + (i % 4));
        const seqs = await s.currentSeqs(some);
        expect([...seqs.values()]).toEqual(some.map(() => 3));
      }
      const [plans] = await sql<{ generic: number; custom: number }[]>`
        select generic_plans::int as generic, custom_plans::int as custom
          from pg_prepared_statements where statement like '%seq from runs where%' and statement not like '%pg_prepared_statements%'`;
      expect(plans).toEqual({ generic: 25, custom: 5 });
    } finally {
      await sql.end();
      await own.drop();
    }
  });
});
