import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { type RunCreated, RunEvent } from '../machines/run-events.ts';
import { RUN_MACHINE_VERSION } from '../machines/run-machine.ts';
import { restore, startRun, step } from '../machines/run-replay.ts';
import { currentStep, type RunSnapshot, refusal, runStatus } from '../machines/run-state.ts';
import { runView } from '../machines/run-view.ts';
import { timersFor, workFor } from '../machines/run-work.ts';
import {
  type Bus,
  type Json,
  type RunStore,
  type SnapshotCache,
  type SnapshotEnvelope,
  StoreError,
} from '../persistence/types.ts';
import { canonical } from './canonical.ts';
import { HitlError } from './errors.ts';
import { createLru } from './lru.ts';
import type { ProviderRegistry } from './providers/registry.ts';
import { guarded, type HostMessage, isHostMessage } from './run-messages.ts';
import { changedApprovals, envelopeOf, messageFor, rowsFor, storedView } from './run-records.ts';

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
  log?: Logger;
  /** Test-only fault injection: called at named points (e.g. `after_commit`). */
  fault?: (point: string) => void;
}

/** A run as loaded for a write or a read. */
export interface LoadedRun {
  seq: number;
  snapshot: RunSnapshot;
  updated_at: string;
  created_by: string;
}

/** The type of the event a commit logged: what the work that follows may assume. */
export type CommitCause = RunEvent['type'] | 'run.created';
export type EventFactory = (run: LoadedRun, stamp: (actor: string) => Stamp) => RunEvent | Promise<RunEvent>;
export interface Stamp {
  at: string;
  actor: string;
  id: string;
}

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

/**
 * The core of the runtime (SPEC §2.6): load → check → transition → commit (Postgres, one
 * transaction, `(run_id, seq)` guarded) → cache → publish → then the work the new state asks for.
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
  let afterCommit: (runId: string, next: RunSnapshot, cause: CommitCause) => void = () => {};

  const stamp = (actor: string): Stamp => ({ at: now().toISOString(), actor, id: newId() });

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

  function fromEnvelope(envelope: unknown): RunSnapshot {
    const env = envelope as { machine_version?: number; snapshot?: unknown };
    if (env?.machine_version !== RUN_MACHINE_VERSION) {
      throw new HitlError(
        'unavailable',
        `Stored run snapshot has machine version ${String(env?.machine_version)}`,
      );
    }
    const snapshot = restore(env.snapshot);
    if (snapshot.status === 'error')
      throw new HitlError('unavailable', 'Stored run snapshot cannot be restored');
    return snapshot;
  }

  async function fromCache(runId: string): Promise<LoadedRun | null> {
    const hit = await deps.cache.get(runId).catch(() => null);
    if (!hit || typeof hit.value !== 'object' || hit.value === null || Array.isArray(hit.value)) return null;
    const v = hit.value as { envelope?: unknown; updated_at?: unknown; created_by?: unknown };
    if (typeof v.updated_at !== 'string' || typeof v.created_by !== 'string') return null;
    try {
      return {
        seq: hit.version,
        snapshot: fromEnvelope(v.envelope),
        updated_at: v.updated_at,
        created_by: v.created_by,
      };
    } catch {
      return null;
    }
  }

  async function fromStore(runId: string): Promise<LoadedRun | null> {
    const rec = await storeCall(() => deps.store.getRun(runId));
    if (!rec) return null;
    return {
      seq: rec.seq,
      snapshot: fromEnvelope(rec.envelope),
      updated_at: rec.updated_at,
      created_by: rec.created_by,
    };
  }

  /** Latest state: this process's live copy, else the cache, else Postgres (the record). */
  async function load(runId: string, fresh = false): Promise<LoadedRun | null> {
    if (!fresh) {
      const mine = live.get(runId);
      if (mine) return mine;
      const cached = await fromCache(runId);
      if (cached) return cached;
    }
    return fromStore(runId);
  }

  /**
   * Reads for the API: never the local copy (another node may have moved on). A cache entry serves
   * only while no newer event is logged: an older one (left by a node cut off from Redis, or written
   * late) must not hide an acknowledged change (read-your-writes, SPEC §2.6).
   */
  async function read(runId: string): Promise<LoadedRun | null> {
    const cached = await fromCache(runId);
    if (cached && (await storeCall(() => deps.store.listEvents(runId, cached.seq, 1))).length === 0)
      return cached;
    return fromStore(runId);
  }

  async function storeCall<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof StoreError && err.code === 'unavailable') {
        throw new HitlError('unavailable', 'The database is unavailable; nothing was accepted');
      }
      throw err;
    }
  }

  async function publish(message: HostMessage): Promise<void> {
    local.emit('message', message);
    await deps.bus.publish(CHANNEL, message as unknown as Json).catch((err: unknown) => {
      log.warn({ err: String(err) }, 'fan-out publish failed');
    });
  }

  async function cacheAfterCommit(runId: string, run: LoadedRun, envelope: SnapshotEnvelope): Promise<void> {
    const value = { envelope, updated_at: run.updated_at, created_by: run.created_by };
    const stored = await deps.cache.set(runId, run.seq, value as unknown as Json).catch(() => false);
    // A failed write must not leave an older entry readable after the acknowledgement.
    if (!stored) await deps.cache.del(runId).catch(() => {});
  }

  /** Create a run: one commit of `run.created`, then its first work. */
  async function create(input: RunCreated, createdBy: string): Promise<LoadedRun> {
    const snapshot = startRun(input);
    const rows = rowsFor(null, snapshot, input, 1);
    const envelope = envelopeOf(snapshot);
    await storeCall(() =>
      deps.store.createRun({
        record: {
          run_id: input.run_id,
          seq: 1,
          status: runStatus(snapshot),
          current_step: currentStep(snapshot),
          user_id: input.user_id,
          session_id: input.session_id,
          created_by: createdBy,
          envelope,
          view: storedView(snapshot, 1, input.at),
          created_at: input.at,
          updated_at: input.at,
        },
        events: rows,
        timers: timersFor(snapshot),
        approvals: [],
        owner: deps.node,
        lease_ms: leaseMs,
        work_pending: workFor(snapshot) !== null,
      }),
    );
    const run: LoadedRun = { seq: 1, snapshot, updated_at: input.at, created_by: createdBy };
    live.set(input.run_id, run);
    await cacheAfterCommit(input.run_id, run, envelope);
    await publish(messageFor(deps.node, null, snapshot, rows, createdBy));
    afterCommit(input.run_id, snapshot, 'run.created');
    return run;
  }

  /**
   * Apply one event built by `make` from the current state. Refusals throw typed errors; a
   * concurrent writer (another node) makes the commit fail on `seq`, and the event is rebuilt
   * and re-checked on the fresh state.
   */
  function apply(runId: string, make: EventFactory, opts: { takeover?: boolean } = {}): Promise<LoadedRun> {
    return withLock(runId, async () => {
      for (let attempt = 0; attempt < 5; attempt++) {
        const cur = await load(runId, attempt > 0);
        if (!cur) throw new HitlError('run_not_found', `Run ${runId} not found`);
        const parsed = RunEvent.safeParse(await make(cur, stamp));
        if (!parsed.success)
          throw new HitlError('invalid_request', 'The event is malformed', parsed.error.issues);
        const event = parsed.data;
        const refused = refusal(cur.snapshot, event);
        if (refused) {
          // The local or cached copy may be behind another node's commit: only the record refuses.
          if (attempt === 0) {
            live.delete(runId);
            continue;
          }
          throw new HitlError(refused.code, refused.message);
        }
        const next = step(cur.snapshot, event);
        const rows = rowsFor(cur.snapshot, next, event, cur.seq + 1);
        const seq = cur.seq + rows.length;
        const envelope = envelopeOf(next);
        const nextTimers = timersFor(next);
        try {
          await deps.cache.del(runId).catch(() => {});
          await storeCall(() =>
            deps.store.commit({
              run_id: runId,
              expected_seq: cur.seq,
              events: rows,
              envelope,
              view: storedView(next, seq, event.at),
              status: runStatus(next),
              current_step: currentStep(next),
              updated_at: event.at,
              work_pending: workFor(next) !== null,
              owner: deps.node,
              lease_ms: leaseMs,
              timers: nextTimers,
              timers_changed: canonical(nextTimers) !== canonical(timersFor(cur.snapshot)),
              approvals: changedApprovals(cur.snapshot, next, cur.created_by),
              ...(opts.takeover ? { require_lease_expired: true } : {}),
            }),
          );
        } catch (err) {
          if (err instanceof StoreError && err.code === 'seq_conflict') {
            live.delete(runId);
            continue;
          }
          if (err instanceof StoreError && err.code === 'lease_held') {
            throw new HitlError('conflict', 'Another node holds this run');
          }
          throw err;
        }
        deps.fault?.('after_commit');
        const run: LoadedRun = { seq, snapshot: next, updated_at: event.at, created_by: cur.created_by };
        live.set(runId, run);
        await cacheAfterCommit(runId, run, envelope);
        await publish(messageFor(deps.node, cur.snapshot, next, rows, cur.created_by));
        afterCommit(runId, next, event.type);
        return run;
      }
      throw new HitlError('conflict', 'The run changed concurrently; try again');
    });
  }

  /** The public view of a run, waiting times counted up to now. */
  function viewOf(run: LoadedRun): Record<string, unknown> {
    return runView(run.snapshot, { seq: run.seq, updated_at: run.updated_at, now: now().toISOString() });
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
    load,
    read,
    create,
    apply,
    publish,
    viewOf,
    subscribe,
    storeCall,
    liveCount: () => live.size(),
    onCommit(fn: (runId: string, next: RunSnapshot, cause: CommitCause) => void) {
      afterCommit = fn;
    },
  };
}

export type RunCore = ReturnType<typeof createRunCore>;
