import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { type RunCreated, RunEvent } from '../machines/run-events.ts';
import type { Fact } from '../machines/run-facts.ts';
import { startRun, step } from '../machines/run-replay.ts';
import { currentStep, type RunSnapshot, refusal, runStatus } from '../machines/run-state.ts';
import { runView, viewTimes } from '../machines/run-view.ts';
import { cancelsFor, timersFor, type WorkItem, workFor } from '../machines/run-work.ts';
import type { RunView } from '../machines/view-schemas.ts';
import {
  type BatchItem,
  type Bus,
  type Json,
  type RunStore,
  type SnapshotCache,
  type SnapshotEnvelope,
  StoreError,
} from '../persistence/types.ts';
import { canonical } from './canonical.ts';
import { createCommitQueue } from './commit-queue.ts';
import { fromStoreError, HitlError } from './errors.ts';
import { createLru } from './lru.ts';
import type { ProviderRegistry } from './providers/registry.ts';
import { type Chain, createdChain, extendChain, type Stamp } from './run-chain.ts';
import { createRunLoader, type LoadedRun } from './run-load.ts';
import { guarded, type HostMessage, isHostMessage } from './run-messages.ts';
import { changedApprovals, envelopeOf, messageFor, rowsFor } from './run-records.ts';

export type { Stamp } from './run-chain.ts';

/** What the host returns as a run's view: the zod `RunView` (machines/view-schemas.ts). */
export type HostRunView = RunView;
export type { LoadedRun } from './run-load.ts';

export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

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

const CHANNEL = 'events';
const REFUSALS = new Set([
  'run_terminal',
  'approval_not_pending',
  'invalid_transition',
  'invalid_action',
  'invalid_edits',
]);

/** True for the typed errors a machine refusal produces (stale timers and late results are expected). */
export function isRefusal(err: unknown): boolean {
  return err instanceof HitlError && REFUSALS.has(err.code);
}

const silent: Logger = { info() {}, warn() {}, error() {} };

/** What a committed change leaves for after its batch: the run, its envelope, its message. */
interface Committed {
  run: LoadedRun;
  envelope: SnapshotEnvelope;
  message: ReturnType<typeof messageFor>;
}

/**
 * The core of the runtime (SPEC §2.6, §8): load → check → transition, plus every following step
 * that needs no I/O → one group commit (Postgres, `(run_id, seq)` guarded) → cache + publish for
 * the whole batch → then the I/O work the new state asks for.
 */
export function createRunCore(deps: RunHostDeps) {
  const now = deps.now ?? (() => new Date());
  const newId = deps.newId ?? randomUUID;
  const leaseMs = deps.leaseMs ?? 15_000;
  const log = deps.log ?? silent;
  const live = createLru<string, LoadedRun>(deps.maxLiveRuns ?? 1000);
  const locks = new Map<string, Promise<unknown>>();
  const local = new EventEmitter();
  local.setMaxListeners(0);
  const views = new WeakMap<LoadedRun, HostRunView>();
  let afterCommit: (runId: string, next: RunSnapshot, cause: CommitCause, work: WorkItem[]) => void =
    () => {};

  const stamp = (actor: string): Stamp => ({ at: now().toISOString(), actor, id: newId() });
  const loader = createRunLoader({ store: deps.store, cache: deps.cache, live, storeCall });
  const queue = createCommitQueue<Committed>(deps.store, {
    ...(deps.maxQueuedCommits !== undefined ? { maxQueued: deps.maxQueuedCommits } : {}),
    afterBatch,
    ...(deps.fault ? { fault: deps.fault } : {}),
  });

  /** Serialise writers of one run inside this process; other nodes are fenced by `seq`. */
  function withLock<T>(runId: string, fn: () => Promise<T>): Promise<T> {
    const prev = locks.get(runId) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => {});
    locks.set(runId, tail);
    void tail.then(() => {
      if (locks.get(runId) === tail) locks.delete(runId);
    });
    return run;
  }

  /** A store call whose failures leave as `HitlError`s, except the codes the caller handles. */
  async function storeCall<T>(fn: () => Promise<T>, handled: readonly StoreError['code'][] = []): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof StoreError && handled.includes(err.code)) throw err;
      throw fromStoreError(err);
    }
  }

  /** Cache entries and fan-out of one batch, written together (one pipelined write per connection). */
  async function afterBatch(done: Committed[]): Promise<void> {
    for (const c of done) live.set(c.run.snapshot.context.run_id, c.run);
    for (const c of done) local.emit('message', c.message);
    await Promise.all(
      done.flatMap((c) => {
        const runId = c.run.snapshot.context.run_id;
        const value = { envelope: c.envelope, updated_at: c.run.updated_at, created_by: c.run.created_by };
        return [
          deps.cache
            .set(runId, c.run.seq, value as unknown as Json)
            .catch(() => false)
            // A failed write must not leave an older entry readable (reads also probe `seq`).
            .then((stored) => (stored ? undefined : deps.cache.del(runId).catch(() => {}))),
          deps.bus.publish(CHANNEL, c.message as unknown as Json).catch((err: unknown) => {
            log.warn({ err: String(err) }, 'fan-out publish failed');
          }),
        ];
      }),
    );
  }

  async function publish(message: HostMessage): Promise<void> {
    local.emit('message', message);
    await deps.bus.publish(CHANNEL, message as unknown as Json).catch((err: unknown) => {
      log.warn({ err: String(err) }, 'fan-out publish failed');
    });
  }

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
    item: (c: { seq: number; envelope: SnapshotEnvelope; view: Record<string, unknown> }) => BatchItem,
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
    const next = chain.next;
    const at = chain.rows[chain.rows.length - 1]?.created_at ?? input.at;
    // A refusal of the commit (a StoreError) leaves as the actors' own error.
    return commitChain(
      null,
      chain,
      ({ seq, envelope, view }) => ({
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
          owner: deps.node,
          lease_ms: leaseMs,
          work_pending: workFor(next) !== null,
        },
      }),
      createdBy,
      at,
    ).catch((err: unknown) => {
      throw fromStoreError(err);
    });
  }

  /**
   * Apply the input `make` builds from the current state (plus the steps after it that need no
   * I/O) in one commit. Refusals throw typed errors; a concurrent writer (another node) makes the
   * commit fail on `seq`, and the input is rebuilt and re-checked on the fresh state, alone.
   */
  function apply(runId: string, make: EventFactory, opts: { takeover?: boolean } = {}): Promise<LoadedRun> {
    return withLock(runId, async () => {
      for (let attempt = 0; attempt < 5; attempt++) {
        const cur = await loader.load(runId, attempt > 0);
        if (!cur) throw new HitlError('run_not_found', `Run ${runId} not found`);
        const made = await make(cur, stamp);
        const events: RunEvent[] = [];
        for (const e of Array.isArray(made) ? made : [made]) {
          const parsed = RunEvent.safeParse(e);
          if (!parsed.success)
            throw new HitlError('invalid_request', 'The event is malformed', parsed.error.issues);
          events.push(parsed.data);
        }
        const [event, ...more] = events;
        if (!event) throw new HitlError('invalid_request', 'No event to apply');
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
            ({ envelope, view }) => ({
              kind: 'commit',
              change: {
                run_id: runId,
                expected_seq: cur.seq,
                events: chain.rows,
                envelope,
                view,
                status: runStatus(next),
                current_step: currentStep(next),
                updated_at: at,
                work_pending: workFor(next) !== null,
                owner: deps.node,
                lease_ms: leaseMs,
                timers: nextTimers,
                timers_changed: canonical(nextTimers) !== canonical(timersFor(cur.snapshot)),
                approvals: changedApprovals(cur.snapshot, next, cur.created_by),
                ...(work.length > 0 ? { work } : {}),
                ...(opts.takeover ? { require_lease_expired: true } : {}),
              },
            }),
            cur.created_by,
            at,
            work,
          );
        } catch (err) {
          if (err instanceof StoreError && (err.code === 'seq_conflict' || err.code === 'not_found')) {
            live.delete(runId);
            continue;
          }
          if (err instanceof StoreError && err.code === 'lease_held') {
            throw new HitlError('conflict', 'Another node holds this run');
          }
          if (err instanceof StoreError) throw new HitlError('unavailable', err.message);
          throw err;
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
    return withLock(runId, async () => {
      for (let attempt = 0; attempt < 5; attempt++) {
        const cur = await loader.load(runId, attempt > 0);
        if (!cur) return null;
        const facts = make(cur);
        if (!facts || facts.length === 0) return cur;
        const at = now().toISOString();
        const base = {
          run_id: runId,
          step: currentStep(cur.snapshot),
          status: runStatus(cur.snapshot),
          created_at: at,
          actor: 'system',
          derived: true,
        };
        const rows = facts.map((f, i) => ({
          ...base,
          seq: cur.seq + 1 + i,
          type: f.type,
          message: f.message,
          payload: f.payload,
        }));
        // The chain's cause is unused here: the commit reports `audit` (no work follows it).
        const chain: Chain = { next: cur.snapshot, rows, cause: 'run.created' };
        const timers = timersFor(cur.snapshot);
        try {
          return await commitChain(
            cur,
            chain,
            ({ envelope, view }) => ({
              kind: 'commit',
              change: {
                run_id: runId,
                expected_seq: cur.seq,
                events: rows,
                envelope,
                view,
                status: runStatus(cur.snapshot),
                current_step: currentStep(cur.snapshot),
                updated_at: at,
                work_pending: workFor(cur.snapshot) !== null,
                owner: deps.node,
                lease_ms: leaseMs,
                timers,
                timers_changed: false,
                approvals: [],
                ...(add.length > 0 ? { work: add } : {}),
                ...(work.done && work.done.length > 0 ? { work_done: work.done } : {}),
              },
            }),
            cur.created_by,
            at,
            add,
            'audit',
          );
        } catch (err) {
          if (err instanceof StoreError && err.code === 'seq_conflict') {
            live.delete(runId);
            continue;
          }
          if (err instanceof StoreError) throw new HitlError('unavailable', err.message);
          throw err;
        }
      }
      throw new HitlError('conflict', 'The run changed concurrently; try again');
    });
  }

  /** The public view of a run, waiting times counted up to now. */
  function viewOf(run: LoadedRun): HostRunView {
    return { ...baseView(run), ...viewTimes(run.snapshot.context, now().toISOString()) };
  }

  function subscribe(subscriber: (m: HostMessage) => void): () => void {
    // SPEC §7: a subscriber's exception never reaches a commit or the bus; foreign messages are
    // checked for shape (shallowly) before any subscriber reads them.
    const listener = guarded(subscriber, log);
    local.on('message', listener);
    const unsubscribeBus = deps.bus.subscribe(CHANNEL, (m) => {
      if (isHostMessage(m) && m.node !== deps.node) listener(m);
    });
    return () => {
      local.off('message', listener);
      unsubscribeBus();
    };
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
    create,
    apply,
    appendAudit,
    publish,
    viewOf,
    subscribe,
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
