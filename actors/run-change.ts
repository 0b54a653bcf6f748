import { type RunCreated, RunEvent } from '../machines/run-events.ts';
import { currentStep, type RunSnapshot, runStatus } from '../machines/run-state.ts';
import { timersFor, workFor } from '../machines/run-work.ts';
import { type BatchItem, type CommitInput, type SnapshotEnvelope, StoreError } from '../persistence/types.ts';
import { HitlError } from './errors.ts';
import type { Chain } from './run-chain.ts';
import type { LoadedRun } from './run-load.ts';
import { changedApprovals } from './run-records.ts';

/**
 * What one commit of the core writes and what its outcome means: the batch item of a new run or
 * of a change of an existing one (SPEC §8 commit model), the input's events checked, and whether
 * a refused commit is redone on fresh state or leaves as a `HitlError`.
 */

/** What the commit path computes once per change and every batch item carries. */
export interface Sealed {
  seq: number;
  envelope: SnapshotEnvelope;
  view: Record<string, unknown>;
}

/** The lease a commit takes: this node owns the run for `lease_ms` after it. */
export interface Lease {
  owner: string;
  lease_ms: number;
}

/** What a change of an existing run writes besides its rows and state. */
export type ChangeExtras = Pick<
  CommitInput,
  'timers' | 'approvals' | 'work' | 'work_done' | 'require_lease_expired'
> & { timers_changed: boolean };

/** The batch item that creates a run: `run.created` and the chain after it, with its lease. */
export function createItem(
  input: RunCreated,
  chain: Chain,
  createdBy: string,
  at: string,
  lease: Lease,
): (sealed: Sealed) => BatchItem {
  const next = chain.next;
  return ({ seq, envelope, view }) => ({
    kind: 'create',
    run: {
      record: {
        run_id: input.run_id,
        seq,
        status: runStatus(next),
        current_step: currentStep(next),
        user_id: input.user_id,
        session_id: input.session_id,
        created_by: createdBy,
        envelope,
        view,
        created_at: input.at,
        updated_at: at,
      },
      events: chain.rows,
      timers: timersFor(next),
      approvals: changedApprovals(null, next, createdBy),
      owner: lease.owner,
      lease_ms: lease.lease_ms,
      work_pending: workFor(next) !== null,
    },
  });
}

/** The batch item of a change of `cur` to `next`, guarded by `cur.seq` (SPEC §8). */
export function changeItem(
  runId: string,
  cur: LoadedRun,
  next: RunSnapshot,
  rows: Chain['rows'],
  at: string,
  lease: Lease,
  extras: ChangeExtras,
): (sealed: Sealed) => BatchItem {
  return ({ envelope, view }) => {
    // Written out field by field: no object spread on the commit path (slow on Node 20).
    const change: CommitInput = {
      run_id: runId,
      expected_seq: cur.seq,
      events: rows,
      envelope,
      view,
      status: runStatus(next),
      current_step: currentStep(next),
      updated_at: at,
      work_pending: workFor(next) !== null,
      owner: lease.owner,
      lease_ms: lease.lease_ms,
      timers: extras.timers,
      timers_changed: extras.timers_changed,
      approvals: extras.approvals,
    };
    if (extras.work !== undefined) change.work = extras.work;
    if (extras.work_done !== undefined) change.work_done = extras.work_done;
    if (extras.require_lease_expired !== undefined)
      change.require_lease_expired = extras.require_lease_expired;
    return { kind: 'commit', change };
  };
}

/** The events an input made, checked against their schemas: the input itself, and what came with it. */
export function checkedEvents(made: RunEvent | RunEvent[]): { event: RunEvent; more: RunEvent[] } {
  const events: RunEvent[] = [];
  for (const e of Array.isArray(made) ? made : [made]) {
    const parsed = RunEvent.safeParse(e);
    if (!parsed.success)
      throw new HitlError('invalid_request', 'The event is malformed', parsed.error.issues);
    events.push(parsed.data);
  }
  const [event, ...more] = events;
  if (!event) throw new HitlError('invalid_request', 'No event to apply');
  return { event, more };
}

/**
 * After a change's commit threw: true when the change is to be redone on fresh state (a code in
 * `retry`: another writer moved the run). Otherwise throws what leaves the core: `conflict` for a
 * lease another node holds (when `leases`), `unavailable` for any other refusal of the store, and
 * anything else unchanged.
 */
export function redo(err: unknown, retry: readonly StoreError['code'][], leases = false): true {
  if (!(err instanceof StoreError)) throw err;
  if (retry.includes(err.code)) return true;
  if (leases && err.code === 'lease_held') throw new HitlError('conflict', 'Another node holds this run');
  throw new HitlError('unavailable', err.message);
}
