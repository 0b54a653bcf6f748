import type { Logger } from '../actors/run-host.ts';
import type { RunHost } from '../actors/runs.ts';

/**
 * Streams runs to the Stately inspector (`HITL_INSPECT`, off by default: it costs throughput).
 * Runs are pure transitions here, not live actors, so each committed change is replayed to the
 * inspector as an actor registration, its events and the resulting snapshot.
 */
export async function startInspector(url: string, host: RunHost, log: Logger): Promise<{ stop(): void }> {
  // Loaded only behind the flag.
  const { createWebSocketInspector } = await import('@statelyai/inspect');
  const { createInspectorServer } = await import('@statelyai/inspect/server');
  const port = Number(new URL(url).port) || 80;
  const relay = createInspectorServer({ port, autoOpen: false });
  const inspector = createWebSocketInspector({ url, maxDeferredEvents: 200 });
  const known = new Set<string>();
  let chain = Promise.resolve();

  const unsubscribe = host.subscribe((m) => {
    if (m.kind !== 'run') return;
    chain = chain
      .then(async () => {
        const run = await host.read(m.run_id);
        if (!run) return;
        const snapshot = {
          status: run.snapshot.status,
          value: run.snapshot.value,
          context: run.snapshot.context,
        };
        if (!known.has(m.run_id)) {
          known.add(m.run_id);
          if (known.size > 10_000) known.delete(known.values().next().value as string);
          inspector.actor(m.run_id, snapshot, { definition: 'run' });
        }
        let last: { type: string } | undefined;
        for (const row of m.events) {
          last = { ...row.payload, type: row.type };
          inspector.event(m.run_id, last, { source: row.actor });
        }
        inspector.snapshot(m.run_id, snapshot, last ? { event: last } : {});
      })
      .catch((err: unknown) =>
        log.warn({ err: err instanceof Error ? err.message : String(err) }, 'inspector failed'),
      );
  });
  log.info({ url, page: `http://127.0.0.1:${port}/` }, 'Stately inspector relay started');
  return {
    stop() {
      unsubscribe();
      inspector.stop();
      relay.stop();
    },
  };
}
