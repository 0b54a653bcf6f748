import type { Logger } from '../actors/logger.ts';
import type { RunHost } from '../actors/run-host.ts';
import { runMachine } from '../machines/run-machine.ts';

/** Deep enough for the run machine's definition (nested states, guards) and its context. */
const DEPTH = 40;
const KNOWN_MAX = 10_000;

/**
 * Each run is its own root actor in the inspector (grouped by run id, not under "anonymous").
 * The library sends `rootId` only for child actors, so it is filled in here.
 */
function asRoot<T extends { sessionId: string; rootId: string | undefined }>(message: T): T {
  return { ...message, rootId: message.sessionId };
}

/**
 * Streams runs to the Stately inspector (`HITL_INSPECT`, off by default: it costs throughput).
 * Runs are pure transitions here, not live actors, so each committed change is replayed to the
 * inspector as an actor registration (with the run machine's definition, so the inspector draws
 * the statechart), the change's events with their sources (`service:…`, `user:…`, `provider:…`)
 * and the resulting snapshot, whose value the statechart highlights. It reads runs only through
 * the host's public `subscribe` and `read`.
 */
export async function startInspector(url: string, host: RunHost, log: Logger): Promise<{ stop(): void }> {
  // Loaded only behind the flag.
  const { createWebSocketInspector } = await import('@statelyai/inspect');
  const { createInspectorServer } = await import('@statelyai/inspect/server');
  const port = Number(new URL(url).port) || 80;
  const relay = createInspectorServer({ port, autoOpen: false });
  const inspector = createWebSocketInspector({
    url,
    maxDeferredEvents: 200,
    serializationDepthLimit: DEPTH,
    serialize: asRoot,
  });
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
          if (known.size > KNOWN_MAX) known.delete(known.values().next().value as string);
          // An actor-like object: the inspector reads the statechart it draws from `logic.config`.
          const actor = {
            sessionId: m.run_id,
            logic: runMachine,
            _parent: undefined,
            send() {},
            getSnapshot: () => snapshot,
          };
          inspector.actor(actor, snapshot);
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
