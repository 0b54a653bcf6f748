import { RUN_MACHINE_VERSION } from '../machines/run-machine.ts';
import { replay, restore } from '../machines/run-replay.ts';
import type { RunSnapshot } from '../machines/run-state.ts';
import type { EventRow, RunStore, SnapshotCache } from '../persistence/types.ts';
import { HitlError } from './errors.ts';
import type { createLru } from './lru.ts';
import { createSeqProbe } from './seq-probe.ts';

/** A run as loaded for a write or a read. */
export interface LoadedRun {
  seq: number;
  snapshot: RunSnapshot;
  updated_at: string;
  created_by: string;
}

/** What a cache entry holds (the envelope is checked shallowly: it is our own data). */
interface CachedValue {
  envelope?: { machine_version?: unknown; snapshot?: unknown };
  updated_at?: unknown;
  created_by?: unknown;
}

/**
 * Loading runs: the local copy, the cache, or Postgres; and rebuilding a run stored by another
 * machine version by replaying its events (SPEC §8 upgrades: never refused).
 */
export function createRunLoader(deps: {
  store: RunStore;
  cache: SnapshotCache;
  live: ReturnType<typeof createLru<string, LoadedRun>>;
  storeCall: <T>(fn: () => Promise<T>) => Promise<T>;
}) {
  const { store, cache, live, storeCall } = deps;
  const probe = createSeqProbe((ids) => storeCall(() => store.currentSeqs(ids)));

  /** The snapshot of a current-version envelope; null for another version (replay instead). */
  function fromEnvelope(envelope: unknown): RunSnapshot | null {
    const env = envelope as { machine_version?: unknown; snapshot?: unknown } | null;
    if (env?.machine_version !== RUN_MACHINE_VERSION) return null;
    const snapshot = restore(env.snapshot);
    if (snapshot.status === 'error')
      throw new HitlError('unavailable', 'Stored run snapshot cannot be restored');
    return snapshot;
  }

  async function allEvents(runId: string): Promise<EventRow[]> {
    const rows: EventRow[] = [];
    for (let after = 0; ; ) {
      const page = await storeCall(() => store.listEvents(runId, after, 1000));
      rows.push(...page);
      if (page.length < 1000) return rows;
      after = page[page.length - 1]?.seq ?? after;
    }
  }

  /** Rebuild from the log (a run stored by an earlier or later machine version). */
  async function rebuilt(runId: string, seq: number): Promise<RunSnapshot> {
    const rows = await allEvents(runId);
    if (rows.length !== seq) throw new HitlError('unavailable', `Run ${runId} changed while being rebuilt`);
    try {
      return replay(rows);
    } catch {
      throw new HitlError('unavailable', `Run ${runId} cannot be rebuilt from its events`);
    }
  }

  async function fromCache(runId: string): Promise<LoadedRun | null> {
    const hit = await cache.get(runId).catch(() => null);
    if (!hit || typeof hit.value !== 'object' || hit.value === null || Array.isArray(hit.value)) return null;
    const v = hit.value as CachedValue;
    if (typeof v.updated_at !== 'string' || typeof v.created_by !== 'string') return null;
    try {
      const snapshot = fromEnvelope(v.envelope);
      return snapshot
        ? { seq: hit.version, snapshot, updated_at: v.updated_at, created_by: v.created_by }
        : null;
    } catch {
      return null;
    }
  }

  async function fromStore(runId: string): Promise<LoadedRun | null> {
    const rec = await storeCall(() => store.getRun(runId));
    if (!rec) return null;
    const snapshot = fromEnvelope(rec.envelope) ?? (await rebuilt(runId, rec.seq));
    const run = { seq: rec.seq, snapshot, updated_at: rec.updated_at, created_by: rec.created_by };
    live.set(runId, run);
    return run;
  }

  return {
    fromStore,
    /** Latest state for a write: the local copy, else the cache, else Postgres. The commit's
     *  `seq` guard catches a stale copy, and the write is then redone on `fresh` state. */
    async load(runId: string, fresh = false): Promise<LoadedRun | null> {
      if (!fresh) {
        const mine = live.get(runId);
        if (mine) return mine;
        const cached = await fromCache(runId);
        if (cached) return cached;
      }
      return fromStore(runId);
    },
    /**
     * Reads for the API never return older state than an acknowledged write on any node
     * (SPEC §2.6): the run's committed `seq` is probed (batched), and the local copy or the cache
     * entry serves only when it is at that `seq`.
     */
    async read(runId: string): Promise<LoadedRun | null> {
      const seq = await probe.seq(runId);
      if (seq === null) return null;
      const mine = live.get(runId);
      if (mine && mine.seq === seq) return mine;
      const cached = await fromCache(runId);
      if (cached && cached.seq === seq) {
        live.set(runId, cached);
        return cached;
      }
      return fromStore(runId);
    },
    /**
     * A read that knows a state at least `seq` is committed (a long-poll woken by a commit's
     * message, after a first `read` that returned an older state): the local copy serves when it
     * is at `seq` or later, without a probe (an acknowledged write the reader must see is at most
     * the first read's `seq`, which the caller folds into `seq`). Otherwise a normal `read`.
     */
    async readAtLeast(runId: string, seq: number): Promise<LoadedRun | null> {
      const mine = live.get(runId);
      if (mine && mine.seq >= seq) return mine;
      return this.read(runId);
    },
    probes: probe.probes,
  };
}
