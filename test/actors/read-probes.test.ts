import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../../server/wait.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { createRun, isStatus, testHost, waitForView } from '../support/host.ts';

// Fresh reads without needless probes (issue 7): a long-poll woken by a commit's message serves
// the local copy at that commit without asking Postgres for the run's seq; any older copy, or a
// read with nothing to rely on, still probes.

let db: TestDatabase;
let h: ReturnType<typeof testHost>;
let other: ReturnType<typeof testHost>;

beforeAll(async () => {
  db = await createTestDatabase();
  h = testHost(db, { node: 'node-a' });
  other = testHost(db, { node: 'node-b' });
  h.host.start();
});
afterAll(async () => {
  await h.host.stop(1000);
  await db.drop();
});

const AT_PAYLOAD = { policy: 'require_human' as const, allowed_steps: ['payload_review' as const] };

describe('reads after a known commit', () => {
  it('serve the local copy at that seq without a probe; a later seq, or another node, probes', async () => {
    const run = await createRun(h.host, AT_PAYLOAD);
    const id = run.snapshot.context.run_id;
    const view = await waitForView(h.host, id, isStatus('awaiting_human'));
    const seq = (await h.host.read(id))?.seq ?? 0;
    expect(seq).toBe(view.seq);

    let probes = h.host.stats().probes;
    expect((await h.host.readAtLeast(id, seq))?.seq).toBe(seq);
    expect(h.host.stats().probes).toBe(probes);

    // Nothing here is at seq + 1 yet: that read asks Postgres.
    expect((await h.host.readAtLeast(id, seq + 1))?.seq).toBe(seq);
    expect(h.host.stats().probes).toBe(probes + 1);

    // Another node committed: a plain read sees it (probe), the local copy is not trusted.
    const approval = (view.approval as { approval_id: string }).approval_id;
    await other.host.decide(id, { approval_id: approval, action: 'reject' }, 'user:u1');
    probes = h.host.stats().probes;
    const fresh = await h.host.read(id);
    expect(h.host.stats().probes).toBe(probes + 1);
    expect(fresh?.seq).toBeGreaterThan(seq);
    expect(h.host.view(fresh!).status).toBe('cancelled');
  });
});

describe('waitUntil', () => {
  it('hands the probe the message that woke it, and probes afresh for a change seen meanwhile', async () => {
    let listener: ((m: never) => void) | null = null;
    const source = {
      subscribe(l: (m: never) => void) {
        listener = l;
        return () => {
          listener = null;
        };
      },
    };
    const seen: Array<number | undefined> = [];
    const send = (m: unknown) => (listener as unknown as (m: unknown) => void)(m);
    const result = waitUntil(source, {
      relevant: () => true,
      timeoutMs: 5_000,
      recheckMs: 60_000,
      probe: async (woke) => {
        const seq = (woke as { seq?: number } | undefined)?.seq;
        seen.push(seq);
        // A second change arrives while this probe reads.
        if (seq === 1) send({ kind: 'run', seq: 2 });
        return seen.length === 3 ? 'done' : undefined;
      },
    });
    await new Promise((r) => setImmediate(r));
    send({ kind: 'run', seq: 1 });
    expect(await result).toBe('done');
    // First probe: nothing; woken by seq 1: given it; repeated for the change meanwhile: nothing.
    expect(seen).toEqual([undefined, 1, undefined]);
  });
});
