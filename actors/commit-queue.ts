import type { BatchItem, RunStore } from '../persistence/types.ts';
import { HitlError } from './errors.ts';

export interface CommitQueueOptions<T> {
  /** Commits waiting beyond this are refused with `unavailable` (503 + Retry-After). */
  maxQueued?: number;
  /** Runs per transaction at most. */
  maxBatch?: number;
  /** Called with the committed items' extras once Postgres has them (cache + fan-out). */
  afterBatch?: (done: T[]) => Promise<void>;
  /** Test-only fault injection: `batch_in_flight` (the statement is sent, no answer yet) and
   *  `after_commit` (committed, nothing cached, published or acknowledged). */
  fault?: (point: string) => void;
}

interface Waiting<T> {
  item: BatchItem;
  extra: T;
  resolve: (err: Error | null) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit (SPEC §8): commits of different runs that wait at the same moment share one
 * transaction. One batch is in flight at a time; the next one forms while it is (no timer, no
 * sleep): under load batches grow by themselves, idle a commit goes out at once.
 */
export function createCommitQueue<T>(store: RunStore, opts: CommitQueueOptions<T> = {}) {
  const maxQueued = opts.maxQueued ?? 2000;
  const maxBatch = opts.maxBatch ?? 256;
  const queue: Waiting<T>[] = [];
  let inFlight = false;
  let commits = 0;
  let batches = 0;
  let largest = 0;
  let refused = 0;

  async function flush(): Promise<void> {
    if (inFlight || queue.length === 0) return;
    inFlight = true;
    const batch = queue.splice(0, maxBatch);
    batches++;
    largest = Math.max(largest, batch.length);
    try {
      const pending = store.commitBatch(batch.map((w) => w.item));
      if (opts.fault) {
        // Crash tests: let the statement reach Postgres, then die before its answer.
        await new Promise((r) => setImmediate(r));
        opts.fault('batch_in_flight');
      }
      const results = await pending;
      const ok = batch.filter((_, i) => results[i] === null);
      if (ok.length > 0) opts.fault?.('after_commit');
      commits += ok.length;
      refused += batch.length - ok.length;
      // The next batch goes out while this one's cache and fan-out are written.
      inFlight = false;
      void flush();
      // SPEC §2.6: acknowledged (and its work started) only once the cache entry is written too.
      if (ok.length > 0) await opts.afterBatch?.(ok.map((w) => w.extra)).catch(() => {});
      batch.forEach((w, i) => {
        w.resolve(results[i] ?? null);
      });
    } catch (err) {
      inFlight = false;
      void flush();
      for (const w of batch) w.reject(err);
    }
  }

  return {
    /** Commit one run's change with whatever else is waiting; null when committed, else the refusal. */
    commit(item: BatchItem, extra: T): Promise<Error | null> {
      if (queue.length >= maxQueued) {
        return Promise.reject(
          new HitlError('unavailable', 'Too many commits are waiting; nothing was accepted, retry shortly', {
            retry_after_s: 1,
          }),
        );
      }
      return new Promise((resolve, reject) => {
        queue.push({ item, extra, resolve, reject });
        void flush();
      });
    },
    /** Logical commits made, transactions used, refusals, and the largest batch so far. */
    stats: () => ({ commits, batches, refused, largest, queued: queue.length }),
  };
}

export type CommitQueue = ReturnType<typeof createCommitQueue>;
