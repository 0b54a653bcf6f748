import { createSubscribers, type Subscribers } from './bus-subscribers.ts';
import { cacheEntryText, parseCacheEntry, parseJsonMessage } from './cache-entry.ts';
import type { Bus, SnapshotCache } from './types.ts';

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
      entries.set(runId, { version, raw: cacheEntryText(version, value) });
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

/** In-process buses that hear each other, as nodes sharing Redis do (one per node of a test). */
export interface MemoryHub {
  /** A bus of its own on this hub: what it publishes is its own (`{ own: false }` skips it). */
  bus(): Bus;
}

interface Member {
  subscribers: Subscribers;
  closed: boolean;
}

/**
 * In-process fan-out. A message is delivered later (never inside `publish`), and each bus gets
 * its own copy, parsed once for all its subscribers (as the Redis bus does): nobody shares or
 * mutates the sender's object. A subscriber that does not want its own bus's messages
 * (`{ own: false }`, as every host is) costs nothing: with no other subscriber, nothing is
 * serialised.
 */
export function createMemoryHub(): MemoryHub {
  const members = new Set<Member>();
  return {
    bus(): Bus {
      const me: Member = { subscribers: createSubscribers(), closed: false };
      members.add(me);
      return {
        async publish(channel, message) {
          if (me.closed) return;
          let raw: string | undefined;
          for (const member of members) {
            const own = member === me;
            if (!member.subscribers.has(channel, own)) continue;
            raw ??= JSON.stringify(message);
            const text = raw;
            setImmediate(() => {
              // Closed or unsubscribed in the meantime: nothing, as with Redis.
              if (member.closed) return;
              const copy = parseJsonMessage(text);
              if (copy !== undefined) member.subscribers.deliver(channel, copy, own);
            });
          }
        },

        // In-process delivery never disconnects, so `onReconnect` is never called.
        subscribe: (channel, onMessage, onReconnect, opts) =>
          me.subscribers.add(channel, onMessage, onReconnect, opts),

        healthy: () => !me.closed,

        async close() {
          me.closed = true;
          me.subscribers.clear();
          members.delete(me);
        },
      };
    },
  };
}

/** In-process bus for a single node (a hub of its own). */
export function createMemoryBus(): Bus {
  return createMemoryHub().bus();
}
