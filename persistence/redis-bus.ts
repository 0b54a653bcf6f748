import type { Redis } from 'ioredis';
import { createSubscribers } from './bus-subscribers.ts';
import { parseJsonMessage } from './cache-entry.ts';
import { connectRedis } from './redis-connect.ts';
import type { Bus } from './types.ts';

/** Options of `createRedisBus`. */
export interface RedisBusOptions {
  /** Channel prefix, e.g. `hitl:`. */
  prefix: string;
  /** Redis client name, shown by `CLIENT LIST` (default `hitl-runs`). */
  connectionName?: string;
}

const noop = () => undefined;
const MAX_ECHOES = 1000;

/**
 * Cross-node fan-out over Redis pub/sub, with one connection to publish and one to listen.
 * Subscriptions are renewed by hand after a reconnect, and only then is `onReconnect` called,
 * so a subscriber that catches up from Postgres there misses nothing published afterwards.
 */
export function createRedisBus(url: string, options: RedisBusOptions): Bus {
  const name = options.connectionName ?? 'hitl-runs';
  const publisher = connectRedis(url, `${name}:publish`);
  const listener: Redis = connectRedis(url, `${name}:subscribe`, {
    autoResubscribe: false,
    enableAutoPipelining: false,
  });
  const full = (channel: string) => `${options.prefix}${channel}`;
  // Not ready yet: the 'ready' handler subscribes to every channel known by then.
  const subscribers = createSubscribers({
    opened: (channel) => {
      if (listener.status === 'ready') listener.subscribe(full(channel)).catch(noop);
    },
    closed: (channel) => {
      if (listener.status === 'ready') listener.unsubscribe(full(channel)).catch(noop);
    },
  });
  let everReady = false;
  let publishFailed = false;

  listener.on('ready', () => {
    const reconnected = everReady;
    everReady = true;
    const names = subscribers.channels().map(full);
    const subscribed = names.length > 0 ? listener.subscribe(...names) : Promise.resolve(0);
    subscribed.then(
      () => {
        if (reconnected) subscribers.reconnected();
      },
      // The connection dropped again; the next 'ready' retries.
      noop,
    );
  });
  publisher.on('ready', () => {
    publishFailed = false;
  });

  // The texts this bus published whose echo has not come back yet, with their counts: a message
  // of our own that no subscriber wants is not parsed (every node hears its own publishes).
  // Bounded: an echo lost with a connection is forgotten, its text at worst parsed once.
  const echoes = new Map<string, number>();
  const sent = (raw: string) => {
    echoes.set(raw, (echoes.get(raw) ?? 0) + 1);
    if (echoes.size > MAX_ECHOES) for (const k of echoes.keys()) if (echoes.delete(k)) break;
  };
  const heard = (raw: string): boolean => {
    const n = echoes.get(raw);
    if (n === undefined) return false;
    if (n > 1) echoes.set(raw, n - 1);
    else echoes.delete(raw);
    return true;
  };

  listener.on('message', (channel: string, raw: string) => {
    if (!channel.startsWith(options.prefix)) return;
    const name = channel.slice(options.prefix.length);
    const own = echoes.size > 0 && heard(raw);
    if (!subscribers.has(name, own)) return;
    const message = parseJsonMessage(raw);
    if (message !== undefined) subscribers.deliver(name, message, own);
  });

  return {
    async publish(channel, message) {
      // At-most-once: a message lost while Redis is away is caught up from Postgres.
      const raw = JSON.stringify(message);
      // Only heard back where this bus listens on the channel.
      if (subscribers.has(channel)) sent(raw);
      try {
        await publisher.publish(full(channel), raw);
        publishFailed = false;
      } catch {
        heard(raw);
        publishFailed = true;
      }
    },

    subscribe: (channel, onMessage, onReconnect, opts) =>
      subscribers.add(channel, onMessage, onReconnect, opts),

    healthy: () => publisher.status === 'ready' && listener.status === 'ready' && !publishFailed,

    async close() {
      subscribers.clear();
      await Promise.all([publisher, listener].map((r) => r.quit().then(noop, () => r.disconnect())));
    },
  };
}
