/**
 * A serial queue per key: calls with one key run one after the other (a failure does not stop the
 * next), calls with different keys run side by side. The map forgets a key once its queue drains.
 */
export function createKeyedQueue() {
  const tails = new Map<string, Promise<unknown>>();
  return {
    /** Run `fn` after every earlier call with `key` has settled. */
    run<T>(key: string, fn: () => Promise<T>): Promise<T> {
      const prev = tails.get(key) ?? Promise.resolve();
      const run = prev.then(fn, fn);
      const tail = run.catch(() => {});
      tails.set(key, tail);
      void tail.then(() => {
        if (tails.get(key) === tail) tails.delete(key);
      });
      return run;
    },
    /** Keys with work queued or running. */
    get size(): number {
      return tails.size;
    },
  };
}

export type KeyedQueue = ReturnType<typeof createKeyedQueue>;
