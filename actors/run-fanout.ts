import { EventEmitter } from 'node:events';
import type { Bus, SnapshotCache, SnapshotEnvelope } from '../persistence/types.ts';
import type { Logger } from './logger.ts';
import type { LoadedRun } from './run-load.ts';
import { guarded, type HostMessage, isHostMessage, type RunMessage } from './run-messages.ts';

/** What a committed change leaves for after its batch: the run, its envelope, its message. */
export interface Committed {
  run: LoadedRun;
  envelope: SnapshotEnvelope;
  message: RunMessage;
}

const CHANNEL = 'events';

/**
 * After a commit (SPEC §7, §8): the cache entries and the messages of a batch. Subscribers in
 * this process get the message object; other nodes get it through the bus, checked for shape.
 */
export function createRunFanout(deps: { cache: SnapshotCache; bus: Bus; node: string; log: Logger }) {
  const { log } = deps;
  const local = new EventEmitter();
  local.setMaxListeners(0);

  /** To the other nodes; a failure is logged, never thrown (they catch up from Postgres). */
  function send(message: HostMessage): Promise<void> {
    return deps.bus.publish(CHANNEL, message).catch((err: unknown) => {
      log.warn({ err: String(err) }, 'fan-out publish failed');
    });
  }

  /** Cache entries and fan-out of one batch, written together (one pipelined write per connection). */
  async function afterBatch(done: Committed[]): Promise<void> {
    for (const c of done) local.emit('message', c.message);
    await Promise.all(
      done.flatMap((c) => {
        const runId = c.run.snapshot.context.run_id;
        const value = { envelope: c.envelope, updated_at: c.run.updated_at, created_by: c.run.created_by };
        return [
          deps.cache
            .set(runId, c.run.seq, value)
            .catch(() => false)
            // A failed write must not leave an older entry readable (reads also probe `seq`).
            .then((stored) => (stored ? undefined : deps.cache.del(runId).catch(() => {}))),
          send(c.message),
        ];
      }),
    );
  }

  async function publish(message: HostMessage): Promise<void> {
    local.emit('message', message);
    await send(message);
  }

  function subscribe(subscriber: (m: HostMessage) => void): () => void {
    // SPEC §7: a subscriber's exception never reaches a commit or the bus; foreign messages are
    // checked for shape (shallowly) before any subscriber reads them.
    const listener = guarded(subscriber, log);
    local.on('message', listener);
    // This node's own messages reach it in-process (above): not read again from the bus.
    const unsubscribeBus = deps.bus.subscribe(
      CHANNEL,
      (m) => {
        if (isHostMessage(m) && m.node !== deps.node) listener(m);
      },
      undefined,
      { own: false },
    );
    return () => {
      local.off('message', listener);
      unsubscribeBus();
    };
  }

  return { afterBatch, publish, subscribe };
}
