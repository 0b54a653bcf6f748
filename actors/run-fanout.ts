import { EventEmitter } from 'node:events';
import type { Bus, Json, RunStore, SnapshotCache, SnapshotEnvelope } from '../persistence/types.ts';
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
/** A run message whose long strings hold at least this many characters goes out by reference. */
const REFS_MIN_CHARS = 64 * 1024;
/** The kind of a run message sent by reference (earlier versions ignore it: not a HostMessage). */
const REFS_KIND = 'run_refs';
/** Messages heard while one by reference is being resolved are kept up to this many, then dropped. */
export const MAX_WAITING_MESSAGES = 10_000;

/**
 * After a commit (SPEC §7, §8): the cache entries and the messages of a batch. Subscribers in
 * this process get the message object; other nodes get it through the bus, checked for shape.
 *
 * A run message with a large input (a long prompt repeated in its events and the approval it
 * opens) is sent by reference where the store keeps long strings apart (Postgres): each long
 * string becomes a reference to the copy its commit stored, and a node that hears it reads them
 * back in one query before its subscribers see the message. The bus then carries kilobytes, not
 * megabytes, and no node encodes, sends or parses the input again for it. Messages are delivered
 * in the order heard; one the store cannot resolve is dropped (logged) as a lost message is.
 */
export function createRunFanout(deps: {
  cache: SnapshotCache;
  bus: Bus;
  node: string;
  log: Logger;
  refs?: RunStore['messageRefs'];
}) {
  const { log, refs } = deps;
  const local = new EventEmitter();
  local.setMaxListeners(0);
  const remote = new EventEmitter();
  remote.setMaxListeners(0);

  /** To the other nodes; a failure is logged, never thrown (they catch up from Postgres). */
  function send(message: HostMessage): Promise<void> {
    const packed = message.kind === 'run' && refs ? refs.pack(message, REFS_MIN_CHARS) : null;
    const wire =
      packed && typeof packed === 'object' && !Array.isArray(packed)
        ? { ...packed, kind: REFS_KIND }
        : message;
    return deps.bus.publish(CHANNEL, wire).catch((err: unknown) => {
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

  /** A message heard from the bus, as subscribers read it: resolved if sent by reference. */
  async function resolve(m: Json): Promise<Json | null> {
    const packed = m as { kind?: unknown; run_id?: unknown } | null;
    if (packed?.kind !== REFS_KIND) return m;
    if (!refs || typeof packed.run_id !== 'string') return null;
    const full = await refs.unpack(packed.run_id, m);
    if (full === null || typeof full !== 'object' || Array.isArray(full)) return null;
    full.kind = 'run';
    return full;
  }

  // One bus subscription for every subscriber of this process (a message by reference is
  // resolved once), delivered in the order heard: while one is being resolved, later ones wait.
  let busy = 0;
  let dropping = false;
  let order: Promise<void> = Promise.resolve();
  const deliver = (m: Json | null) => {
    if (isHostMessage(m) && m.node !== deps.node) remote.emit('message', m);
  };
  function heard(m: Json): void {
    const head = m as { kind?: unknown; node?: unknown } | null;
    // This node's own messages (a bus may deliver them though asked not to) are never resolved.
    if (head?.node === deps.node) return;
    const packed = head?.kind === REFS_KIND;
    if (!packed && busy === 0) {
      deliver(m);
      return;
    }
    // A store that does not answer must not make the queue grow without end: at-most-once, as a
    // bus is, and subscribers catch up from the log.
    if (busy >= MAX_WAITING_MESSAGES) {
      if (!dropping) log.warn({ waiting: busy }, 'fan-out messages dropped while one waits for the store');
      dropping = true;
      return;
    }
    dropping = false;
    busy++;
    // Resolved at once (several may be read together), delivered in turn.
    const ready = resolve(m).then(
      (full) => {
        if (full === null) log.warn({}, 'a fan-out message referenced what the store does not hold: dropped');
        return full;
      },
      (err: unknown) => {
        log.warn(
          { err: err instanceof Error ? err.message : String(err) },
          'a fan-out message could not be resolved: dropped',
        );
        return null;
      },
    );
    order = order
      .then(() => ready)
      .then((full) => {
        if (full !== null) deliver(full);
      })
      .finally(() => {
        busy--;
      });
  }
  let unsubscribeBus: (() => void) | null = null;

  function subscribe(subscriber: (m: HostMessage) => void): () => void {
    // SPEC §7: a subscriber's exception never reaches a commit or the bus; foreign messages are
    // checked for shape (shallowly) before any subscriber reads them.
    const listener = guarded(subscriber, log);
    local.on('message', listener);
    remote.on('message', listener);
    // This node's own messages reach it in-process (above): not read again from the bus.
    unsubscribeBus ??= deps.bus.subscribe(CHANNEL, heard, undefined, { own: false });
    return () => {
      local.off('message', listener);
      remote.off('message', listener);
      if (remote.listenerCount('message') === 0 && unsubscribeBus) {
        unsubscribeBus();
        unsubscribeBus = null;
      }
    };
  }

  return { afterBatch, publish, subscribe };
}
