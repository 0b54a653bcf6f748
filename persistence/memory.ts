import { parseCacheEntry, parseJsonMessage } from './cache-entry.ts';
import type { Bus, Json, SnapshotCache } from './types.ts';

/** Options of `createMemoryCache`. */
export interface MemoryCacheOptions {
  /** The least recently used entry goes when there are more. */
  maxEntries: number;
}

/**
 * In-process snapshot cache (LRU) with the same compare-and-set rule as Redis. Entries are kept
 * as JSON text so that callers can neither share nor mutate what is cached, as with Redis.
 */
export function createMemoryCache(options: MemoryCacheOptions): SnapshotCache {
  // A Map iterates in insertion order: re-inserting on use keeps the oldest first.
  const entries = new Map<string, { version: number; raw: string }>();
  let closed = false;

  return {
    async get(runId) {
      const entry = entries.get(runId);
      if (entry === undefined) return null;
      entries.delete(runId);
      entries.set(runId, entry);
      return parseCacheEntry(entry.raw);
    },

    async set(runId, version, value) {
      const current = entries.get(runId);
      if (current !== undefined && current.version >= version) return false;
      entries.delete(runId);
      entries.set(runId, { version, raw: JSON.stringify({ version, value }) });
      for (const oldest of entries.keys()) {
        if (entries.size <= options.maxEntries) break;
        entries.delete(oldest);
      }
      return true;
    },

    async del(runId) {
      entries.delete(runId);
    },

    healthy: () => !closed,

    async close() {
      closed = true;
      entries.clear();
    },
  };
}

/** In-process bus for a single node: delivers to every subscriber of the channel, asynchronously. */
export function createMemoryBus(): Bus {
  const channels = new Map<string, Set<(message: Json) => void>>();
  let closed = false;

  return {
    async publish(channel, message) {
      const subs = channels.get(channel);
      if (closed || subs === undefined) return;
      // Serialised like on the wire: subscribers get their own copy, later, never the sender's object.
      const raw = JSON.stringify(message);
      for (const onMessage of [...subs]) {
        setImmediate(() => {
          // Unsubscribed in the meantime: nothing, as with Redis.
          if (channels.get(channel)?.has(onMessage) !== true) return;
          try {
            const copy = parseJsonMessage(raw);
            if (copy !== undefined) onMessage(copy);
          } catch {
            // Outside any request: an exception here must neither stop the process nor the
            // delivery to the other subscribers.
          }
        });
      }
    },

    // In-process delivery never disconnects, so `onReconnect` is never called.
    subscribe(channel, onMessage) {
      let subs = channels.get(channel);
      if (subs === undefined) {
        subs = new Set();
        channels.set(channel, subs);
      }
      // A wrapper, so the same function subscribed twice is two subscriptions, as with Redis.
      const handler = (message: Json) => onMessage(message);
      subs.add(handler);
      return () => {
        subs.delete(handler);
        if (subs.size === 0 && channels.get(channel) === subs) channels.delete(channel);
      };
    },

    healthy: () => !closed,

    async close() {
      closed = true;
      channels.clear();
    },
  };
}
