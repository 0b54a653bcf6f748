import { randomUUID } from 'node:crypto';
import type { RunCreated, RunEvent } from '../machines/run-events.ts';
import type { Fact } from '../machines/run-facts.ts';
import { startRun, step } from '../machines/run-replay.ts';
import { type RunSnapshot, refusal } from '../machines/run-state.ts';
import { runView, viewTimes } from '../machines/run-view.ts';
import { cancelsFor, timersFor, type WorkItem } from '../machines/run-work.ts';
import type { RunView } from '../machines/view-schemas.ts';
import type { BatchItem, Bus, RunStore, SnapshotCache } from '../persistence/types.ts';
import { canonical } from './canonical.ts';
import { createCommitQueue } from './commit-queue.ts';
import { fromStoreError, HitlError, storeCall } from './errors.ts';
import { createKeyedQueue } from './keyed-queue.ts';
import { type Logger, silent } from './logger.ts';
import { createLru } from './lru.ts';
import type { ProviderRegistry } from './providers/registry.ts';
import { type Chain, createdChain, extendChain, type Stamp } from './run-chain.ts';
import { changeItem, checkedEvents, createItem, redo, type Sealed } from './run-change.ts';
import { type Committed, createRunFanout } from './run-fanout.ts';
import { createRunLoader, type LoadedRun } from './run-load.ts';
import { auditRows, changedApprovals, envelopeOf, messageFor, rowsFor } from './run-records.ts';

export type { Stamp } from './run-chain.ts';

/** What the host returns as a run's view: the zod `RunView` (machines/view-schemas.ts). */
export type HostRunView = RunView;
export type { LoadedRun } from './run-load.ts';

export interface RunHostDeps {
  store: RunStore;
  cache: SnapshotCache;
  bus: Bus;
  providers: ProviderRegistry;
  /** This node's id (owner of leases and timer claims). */
  node: string;
  now?: () => Date;
  newId?: () => string;
  leaseMs?: number;
  maxLiveRuns?: number;
  /** Commits waiting for a transaction beyond this are refused with `unavailable` (503). */
  maxQueuedCommits?: number;
  log?: Logger;
  /** Test-only fault injection: called at named points (e.g. `after_commit`). */
  fault?: (point: string) => void;
}

/** The type of the last event a commit logged: what the work that follows may assume
 *  (`audit`: only derived audit rows were appended, the state is unchanged). */
export type CommitCause = RunEvent['type'] | 'run.created' | 'audit';
/** Builds the input event from the current state; more events may follow that came with it. */
export type EventFactory = (
  run: LoadedRun,
  stamp: (actor: string) => Stamp,
) => RunEvent | RunEvent[] | Promise<RunEvent | RunEvent[]>;

/**
 * The core of the runtime (SPEC §2.6, §8): load → check → transition, plus every following step
 * that needs no I/O → one group commit (Postgres, `(run_id, seq)` guarded) → cache + publish for
 * the whole batch → then the I/O work the new state asks for.
 */
export function createRunCore(deps: RunHostDeps) {
  const now = deps.now ?? (() => new Date());
  const newId = deps.newId ?? randomUUID;
  const leaseMs = deps.leaseMs ?? 15_000;
  const lease = { owner: deps.node, lease_ms: leaseMs };
  const log = deps.log ?? silent;
  const live = createLru<string, LoadedRun>(deps.maxLiveRuns ?? 1000);
  // Writers of one run are serialised inside this process; other nodes are fenced by `seq`.
  const locks = createKeyedQueue();
  const fanout = createRunFanout({
    cache: deps.cache,
    bus: deps.bus,
    node: deps.node,
    log,
    ...(deps.store.messageRefs ? { refs: deps.store.messageRefs } : {}),
  });
  const views = new WeakMap<LoadedRun, HostRunView>();
  let afterCommit: (runId: string, next: RunSnapshot, cause: CommitCause, work: WorkItem[]) => void =
    () => {};

  const stamp = (actor: string): Stamp => ({ at: now().toISOString(), actor, id: newId() });
  const loader = createRunLoader({ store: deps.store, cache: deps.cache, live, storeCall });
  const queue = createCommitQueue<Committed>(deps.store, {
    ...(deps.maxQueuedCommits !== undefined ? { maxQueued: deps.maxQueuedCommits } : {}),
    afterBatch: (done) => {
      for (const c of done) live.set(c.run.snapshot.context.run_id, c.run);
      return fanout.afterBatch(done);
    },
    ...(deps.fault ? { fault: deps.fault } : {}),
  });

  /** The view as of the run's seq (computed once per committed state); waiting times up to `at`. */
  function baseView(run: LoadedRun): HostRunView {
    let view = views.get(run);
    if (!view) {
      view = runView(run.snapshot, { seq: run.seq, updated_at: run.updated_at, now: run.updated_at });
      views.set(run, view);
    }
    return view;
  }

  /** Commit one chain; resolves once committed, cached and published (or throws the refusal). */
  async function commitChain(
    prev: LoadedRun | null,
    chain: Chain,
    item: (sealed: Sealed) => BatchItem,
    createdBy: string,
    at: string,
    work: WorkItem[] = [],
    cause: CommitCause = chain.cause,
  ): Promise<LoadedRun> {
    const seq = (prev?.seq ?? 0) + chain.rows.length;
    const envelope = envelopeOf(chain.next);
    const run: LoadedRun = { seq, snapshot: chain.next, updated_at: at, created_by: createdBy };
    const view = baseView(run);
    const message = messageFor(deps.node, prev?.snapshot ?? null, chain.next, chain.rows, createdBy);
    const refused = await storeCall(
      () => queue.commit(item({ seq, envelope, view }), { run, envelope, message }),
      ['seq_conflict', 'not_found', 'lease_held'],
    );
    if (refused) throw refused;
    afterCommit(chain.next.context.run_id, chain.next, cause, work);
    return run;
  }

  /** Create a run: one commit of `run.created` and every step after it that needs no I/O. */
  async function create(input: RunCreated, createdBy: string): Promise<LoadedRun> {
    const chain = createdChain(startRun(input), input, deps.providers, stamp);
    const at = chain.rows[chain.rows.length - 1]?.created_at ?? input.at;
    // A refusal of the commit (a StoreError) leaves as the actors' own error.
    return commitChain(null, chain, createItem(input, chain, createdBy, at, lease), createdBy, at).catch(
      (err: unknown) => {
        throw fromStoreError(err);
      },
    );
  }

  /**
   * Apply the input `make` builds from the current state (plus the steps after it that need no
   * I/O) in one commit. Refusals throw typed errors; a concurrent writer (another node) makes the
   * commit fail on `seq`, and the input is rebuilt and re-checked on the fresh state, alone.
   */
  function apply(runId: string, make: EventFactory, opts: { takeover?: boolean } = {}): Promise<LoadedRun> {
    return locks.run(runId, async () => {
      for (let attempt = 0; attempt < 5; attempt++) {
        const cur = await loader.load(runId, attempt > 0);
        if (!cur) throw new HitlError('run_not_found', `Run ${runId} not found`);
        const { event, more } = checkedEvents(await make(cur, stamp));
        const refused = refusal(cur.snapshot, event);
        if (refused) {
          // The local or cached copy may be behind another node's commit: only the record refuses.
          if (attempt === 0) {
            live.delete(runId);
            continue;
          }
          throw new HitlError(refused.code, refused.message);
        }
        const first = step(cur.snapshot, event);
        const chain = extendChain(
          { next: first, rows: rowsFor(cur.snapshot, first, event, cur.seq + 1), cause: event.type },
          cur.seq + 1,
          more,
          deps.providers,
          stamp,
        );
        const next = chain.next;
        const at = chain.rows[chain.rows.length - 1]?.created_at ?? event.at;
        const nextTimers = timersFor(next);
        // A prediction the run no longer waits for is cancelled as durable work of this commit.
        const work = cancelsFor(cur.snapshot, next, at);
        try {
          return await commitChain(
            cur,
            chain,
            changeItem(runId, cur, next, chain.rows, at, lease, {
              timers: nextTimers,
              timers_changed: canonical(nextTimers) !== canonical(timersFor(cur.snapshot)),
              approvals: changedApprovals(cur.snapshot, next, cur.created_by),
              ...(work.length > 0 ? { work } : {}),
              ...(opts.takeover ? { require_lease_expired: true } : {}),
            }),
            cur.created_by,
            at,
            work,
          );
        } catch (err) {
          redo(err, ['seq_conflict', 'not_found'], true);
          live.delete(runId);
        }
      }
      throw new HitlError('conflict', 'The run changed concurrently; try again');
    });
  }

  /**
   * Append derived audit rows (the runtime's own record of work done after a commit, e.g. a
   * prediction's cancel): numbered after the run's seq, skipped by replay, the state unchanged.
   * Also on terminal runs, which accept no event. `make` returns null when there is nothing to add.
   */
  function appendAudit(
    runId: string,
    make: (run: LoadedRun) => Fact[] | null,
    work: { add?: WorkItem[]; done?: string[] } = {},
  ): Promise<LoadedRun | null> {
    const add = work.add ?? [];
    return locks.run(runId, async () => {
      for (let attempt = 0; attempt < 5; attempt++) {
        const cur = await loader.load(runId, attempt > 0);
        if (!cur) return null;
        const facts = make(cur);
        if (!facts || facts.length === 0) return cur;
        const at = now().toISOString();
        const rows = auditRows(cur.snapshot, facts, cur.seq + 1, at);
        // The chain's cause is unused here: the commit reports `audit` (no work follows it).
        const chain: Chain = { next: cur.snapshot, rows, cause: 'run.created' };
        try {
          return await commitChain(
            cur,
            chain,
            changeItem(runId, cur, cur.snapshot, rows, at, lease, {
              timers: timersFor(cur.snapshot),
              timers_changed: false,
              approvals: [],
              ...(add.length > 0 ? { work: add } : {}),
              ...(work.done && work.done.length > 0 ? { work_done: work.done } : {}),
            }),
            cur.created_by,
            at,
            add,
            'audit',
          );
        } catch (err) {
          redo(err, ['seq_conflict']);
          live.delete(runId);
        }
      }
      throw new HitlError('conflict', 'The run changed concurrently; try again');
    });
  }

  /** The public view of a run, waiting times counted up to now. */
  function viewOf(run: LoadedRun): HostRunView {
    return { ...baseView(run), ...viewTimes(run.snapshot.context, now().toISOString()) };
  }

  return {
    deps,
    now,
    newId,
    stamp,
    leaseMs,
    log,
    load: loader.load,
    read: loader.read,
    readAtLeast: (runId: string, seq: number) => loader.readAtLeast(runId, seq),
    create,
    apply,
    appendAudit,
    publish: fanout.publish,
    viewOf,
    subscribe: fanout.subscribe,
    storeCall,
    liveCount: () => live.size(),
    /** Logical commits, the transactions they took, and all write transactions of the store. */
    stats: () => ({
      ...queue.stats(),
      write_transactions: deps.store.writeTransactions(),
      probes: loader.probes(),
    }),
    onCommit(fn: (runId: string, next: RunSnapshot, cause: CommitCause, work: WorkItem[]) => void) {
      afterCommit = fn;
    },
  };
}

export type RunCore = ReturnType<typeof createRunCore>;
