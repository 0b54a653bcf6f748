/**
 * Small storage interfaces. Adapters: postgres (the record), redis and memory (cache + fan-out).
 * Values are opaque JSON; the layers above validate what they read.
 */

import type { StoredEventRow } from '../machines/view-schemas.ts';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** What the cache and the bus take: a value `JSON.stringify` writes as is (the runtime's own
 *  data: plain objects and arrays, their content opaque here), read back as `Json`. */
export type JsonInput = Json | readonly unknown[] | { readonly [key: string]: unknown };

/** One row of a run's append-only event log (SPEC §2.6): the read side's `EventRow`, and whether
 *  it is derived (machines/view-schemas.ts). */
export type EventRow = StoredEventRow;

/** Snapshots are stored in a versioned envelope, never raw (STYLE rule 14). */
export interface SnapshotEnvelope {
  machine_version: number;
  snapshot: unknown;
}

export interface RunRecord {
  run_id: string;
  seq: number;
  status: string;
  current_step: string;
  user_id: string | null;
  session_id: string | null;
  /** `service:<id>` of the creating key. */
  created_by: string;
  envelope: SnapshotEnvelope;
  /** The public run view (SPEC §2.7) as of `seq`. */
  view: Record<string, unknown>;
  created_at: string;
  updated_at: string;
  owner: string | null;
  lease_until: string | null;
}

/**
 * A durable wake-up or work item. One per (owner, kind, key); `run_id` null for standalone
 * approvals. `step_retry` re-runs a failed provider step; `cancel` cancels a prediction the run
 * no longer waits for (a one-shot item: only its handler removes it).
 */
export interface TimerSpec {
  kind: 'deadline' | 'poll' | 'retry' | 'approval_deadline' | 'step_retry' | 'cancel';
  key: string;
  fire_at: string;
}

export interface DueTimer extends TimerSpec {
  id: string;
  run_id: string | null;
  /** How many times it was claimed before (a claim whose node died counts). */
  attempts: number;
}

/** An approval as stored: indexed columns plus the whole wire shape. */
export interface ApprovalRow {
  approval_id: string;
  run_id: string | null;
  status: string;
  checkpoint_type: string;
  user_id: string | null;
  session_id: string | null;
  created_by: string | null;
  created_at: string;
  expires_at: string;
  /** The approval in its wire shape (SPEC §2.4). */
  approval: Record<string, unknown>;
  /** Standalone approvals only: their own machine snapshot and a version for compare-and-set. */
  envelope: SnapshotEnvelope | null;
  version: number;
}

export interface NewRun {
  record: Omit<RunRecord, 'owner' | 'lease_until'>;
  events: EventRow[];
  timers: TimerSpec[];
  approvals: ApprovalRow[];
  owner: string;
  lease_ms: number;
  work_pending: boolean;
}

export interface CommitInput {
  run_id: string;
  /** The seq the change was computed from; the commit fails with `seq_conflict` if the run moved on. */
  expected_seq: number;
  /** Rows numbered expected_seq+1, expected_seq+2, ... */
  events: EventRow[];
  envelope: SnapshotEnvelope;
  view: Record<string, unknown>;
  status: string;
  current_step: string;
  updated_at: string;
  /** Whether the run has in-process work to do (drives lease-based recovery). */
  work_pending: boolean;
  owner: string;
  lease_ms: number;
  /** The complete set of timers this run should have now: others of this run are deleted,
   *  existing ones with the same (kind, key) keep their fire_at. */
  timers: TimerSpec[];
  /** False when the change leaves the run's timers as they were: the sync is skipped. */
  timers_changed?: boolean;
  /** One-shot work items (`cancel`) this change adds; never removed by the timers sync. */
  work?: TimerSpec[];
  /** Ids of this run's work items this change finishes (deleted with it, atomically). */
  work_done?: string[];
  approvals: ApprovalRow[];
  /** Take-over: only commit if the run's lease has expired (or is ours). */
  require_lease_expired?: boolean;
}

/** One run's change in a group commit: a new run, or a guarded commit of an existing one. */
export type BatchItem = { kind: 'create'; run: NewRun } | { kind: 'commit'; change: CommitInput };

export interface RunFilter {
  user_id?: string;
  session_id?: string;
  statuses?: string[];
  /** Only runs the caller may read; undefined = all. */
  readable_by?: { sub: string; roles: string[] };
}

export interface Page<T> {
  items: T[];
  total: number;
  next_cursor: string | null;
}

export interface IdempotencyRecord {
  key_id: string;
  key: string;
  body_hash: string;
  status: number;
  response: Record<string, unknown>;
  created_at: string;
}

/**
 * The record. Throws `StoreError` with code `seq_conflict`, `lease_held`, `not_found`, `version_conflict`,
 * `invalid_cursor` or `unavailable`.
 */
export interface RunStore {
  createRun(run: NewRun): Promise<void>;
  commit(change: CommitInput): Promise<void>;
  /**
   * Group commit: many runs' changes in one transaction (one round trip). Per item, in order:
   * null when committed, else the error that refused it (`seq_conflict`, `lease_held`,
   * `not_found`, or what Postgres said about that item alone); the others commit regardless.
   * Throws `unavailable` when Postgres cannot be reached (nothing was committed).
   */
  commitBatch(items: BatchItem[]): Promise<Array<Error | null>>;
  getRun(runId: string): Promise<RunRecord | null>;
  /** The current `seq` of each run that exists (one indexed probe for many runs). */
  currentSeqs(runIds: string[]): Promise<Map<string, number>>;
  listEvents(runId: string, afterSeq: number, limit: number): Promise<EventRow[]>;
  listRuns(filter: RunFilter, limit: number, cursor: string | null): Promise<Page<RunRecord>>;
  /** Runs with work pending whose lease expired before now. */
  expiredLeases(limit: number): Promise<string[]>;
  /** Extend the lease of runs this node owns. */
  renewLeases(owner: string, runIds: string[], leaseMs: number): Promise<void>;

  getApproval(approvalId: string): Promise<ApprovalRow | null>;
  listPendingApprovals(
    filter: {
      user_id?: string;
      session_id?: string;
      run_id?: string;
      reviewer?: { sub: string; roles: string[] };
    },
    limit: number,
    cursor: string | null,
  ): Promise<Page<ApprovalRow>>;
  /** Standalone approvals: insert with its deadline timer. */
  createApproval(row: ApprovalRow, timer: TimerSpec): Promise<void>;
  /** Standalone approvals: compare-and-set on `version`; removes its timers when `status` is not pending. */
  updateApproval(row: ApprovalRow, expectedVersion: number): Promise<void>;

  /** Claim due timers (FOR UPDATE SKIP LOCKED); a claim lasts `claimMs`. */
  claimDueTimers(node: string, limit: number, claimMs: number): Promise<DueTimer[]>;
  completeTimer(id: string): Promise<void>;
  /** Move a claimed timer to `fireAt` and release its claim. `attempts` restarts at 0, unless
   *  `countAttempt` (a work item that failed): then it keeps counting towards giving up. */
  rescheduleTimer(id: string, fireAt: string, countAttempt?: boolean): Promise<void>;

  getIdempotency(keyId: string, key: string): Promise<IdempotencyRecord | null>;
  /** Returns false if a live record for (keyId, key) already exists. A record with `status` 0 is a
   *  claim (the request is being produced); a claim older than 2 minutes counts as abandoned. */
  putIdempotency(rec: IdempotencyRecord): Promise<boolean>;
  /** Turn this key's claim (`status` 0) into the finished record; false when there is no claim. */
  finishIdempotency(rec: IdempotencyRecord): Promise<boolean>;
  /** Drop this key's claim (the request failed), so the key may be used again. */
  releaseIdempotency(keyId: string, key: string): Promise<void>;
  /** Webhook de-duplication: true the first time an id is seen. */
  rememberWebhook(webhookId: string): Promise<boolean>;

  /**
   * Fan-out by reference (optional; stores that keep long strings apart, i.e. Postgres). `pack`
   * replaces each long string of a committed change's value (its events, the approval it opened)
   * with a reference to the copy the commit stored, or returns null when those strings hold fewer
   * than `minChars` characters in all; `unpack` resolves the references (one query), null when one
   * is not stored.
   */
  messageRefs?: {
    pack(value: JsonInput, minChars: number): JsonInput | null;
    unpack(runId: string, value: Json): Promise<Json | null>;
  };

  /** Write transactions started so far by this store (for the service's counters). */
  writeTransactions(): number;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Snapshot cache (Redis or memory). Never ahead of Postgres: `set` only moves a version forward. */
export interface SnapshotCache {
  get(runId: string): Promise<{ version: number; value: Json } | null>;
  /** Compare-and-set: stores only if no entry or the stored version is lower. Returns whether stored. */
  set(runId: string, version: number, value: JsonInput): Promise<boolean>;
  del(runId: string): Promise<void>;
  /** Whether the backing store answers now. */
  healthy(): boolean;
  close(): Promise<void>;
}

/** Cross-node fan-out (Redis pub/sub or in-process). At-most-once: subscribers catch up from Postgres. */
export interface Bus {
  publish(channel: string, message: JsonInput): Promise<void>;
  /**
   * Returns an unsubscribe function. `onReconnect` is called after a lost connection comes back.
   * `{ own: false }`: the subscriber ignores what this bus published (a hint: an adapter that can
   * tell skips reading those, the Redis bus does; others deliver them as usual).
   */
  subscribe(
    channel: string,
    onMessage: (message: Json) => void,
    onReconnect?: () => void,
    opts?: { own?: boolean },
  ): () => void;
  healthy(): boolean;
  close(): Promise<void>;
}

/** The one error type of the persistence layer. */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    readonly code:
      | 'seq_conflict'
      | 'lease_held'
      | 'not_found'
      | 'version_conflict'
      | 'unavailable'
      /** A list `cursor` that this store did not issue. */
      | 'invalid_cursor',
    message: string,
  ) {
    super(message);
  }
}
