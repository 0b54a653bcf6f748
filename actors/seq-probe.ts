/**
 * Fresh reads, cheaply (issue 7 §6): reads ask Postgres for the run's current `seq` (one indexed
 * probe) and serve the local copy or the cache entry only when it is at that `seq`. Probes of reads
 * waiting at the same moment share one query. A read never joins a probe already in flight (that
 * one may predate the write the reader saw acknowledged): it waits for the next one, which forms
 * while the current one runs.
 */
export function createSeqProbe(lookup: (runIds: string[]) => Promise<Map<string, number>>) {
  let waiting = new Map<
    string,
    Array<{ resolve: (seq: number | null) => void; reject: (e: unknown) => void }>
  >();
  let inFlight = false;
  let probes = 0;

  async function flush(): Promise<void> {
    if (inFlight || waiting.size === 0) return;
    inFlight = true;
    const batch = waiting;
    waiting = new Map();
    probes++;
    try {
      const seqs = await lookup([...batch.keys()]);
      for (const [id, ws] of batch) for (const w of ws) w.resolve(seqs.get(id) ?? null);
    } catch (err) {
      for (const ws of batch.values()) for (const w of ws) w.reject(err);
    } finally {
      inFlight = false;
      void flush();
    }
  }

  return {
    /** The run's seq as committed now, or null when it does not exist. */
    seq(runId: string): Promise<number | null> {
      const id = runId.toLowerCase();
      return new Promise((resolve, reject) => {
        const list = waiting.get(id);
        if (list) list.push({ resolve, reject });
        else waiting.set(id, [{ resolve, reject }]);
        void flush();
      });
    },
    probes: () => probes,
  };
}
