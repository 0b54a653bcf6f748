import type { HostMessage } from '../actors/run-messages.ts';

/** What a long-poll needs from the host. */
export interface Subscribable {
  subscribe(listener: (m: HostMessage) => void): () => void;
}

export interface WaitOptions<T> {
  /** Which committed changes may have made `probe` succeed. */
  relevant: (m: HostMessage) => boolean;
  /** Reads the current state; a value (not undefined) ends the wait. Given the message that woke
   *  it (a relevant committed change), none for the first probe and the periodic rechecks. */
  probe: (woke?: HostMessage) => Promise<T | undefined>;
  timeoutMs: number;
  /** Shutdown: answer now with whatever the caller reads then. */
  signal?: AbortSignal | undefined;
  /** Probe again this often anyway: cross-node fan-out is at-most-once (SPEC §8). */
  recheckMs?: number;
}

/**
 * Long-poll: subscribe first, then probe, then probe again on every relevant change, so a change
 * between the first read and the subscription cannot be missed. Resolves undefined on timeout.
 */
export function waitUntil<T>(source: Subscribable, opts: WaitOptions<T>): Promise<T | undefined> {
  return new Promise<T | undefined>((resolve, reject) => {
    let done = false;
    let probing = false;
    let again = false;
    const timers: NodeJS.Timeout[] = [];
    const cleanup = () => {
      done = true;
      unsubscribe();
      for (const t of timers) clearTimeout(t);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    const finish = (value: T | undefined) => {
      if (done) return;
      cleanup();
      resolve(value);
    };
    const run = async (woke?: HostMessage): Promise<void> => {
      if (probing) {
        again = true;
        return;
      }
      probing = true;
      try {
        do {
          // A probe repeated for a change seen meanwhile reads afresh (no message to rely on).
          const repeat = again;
          again = false;
          const value = await opts.probe(repeat ? undefined : woke);
          if (value !== undefined) return finish(value);
        } while (again && !done);
      } catch (err) {
        if (!done) {
          cleanup();
          reject(err);
        }
      } finally {
        probing = false;
      }
    };
    const onAbort = () => finish(undefined);
    const unsubscribe = source.subscribe((m) => {
      if (!done && opts.relevant(m)) void run(m);
    });
    timers.push(setTimeout(() => finish(undefined), Math.max(0, opts.timeoutMs)));
    const recheck = opts.recheckMs ?? 2000;
    const tick = () => {
      if (done) return;
      void run();
      timers.push(setTimeout(tick, recheck));
    };
    timers.push(setTimeout(tick, recheck));
    opts.signal?.addEventListener('abort', onAbort);
    if (opts.signal?.aborted) return finish(undefined);
    void run();
  });
}
