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

  listener.on('message', (channel: string, raw: string) => {
    if (!channel.startsWith(options.prefix)) return;
    const name = channel.slice(options.prefix.length);
    if (!subscribers.has(name)) return;
    const message = parseJsonMessage(raw);
    if (message !== undefined) subscribers.deliver(name, message);
  });

  return {
    async publish(channel, message) {
      // At-most-once: a message lost while Redis is away is caught up from Postgres.
      try {
        await publisher.publish(full(channel), JSON.stringify(message));
        publishFailed = false;
      } catch {
        publishFailed = true;
      }
    },

    subscribe: (channel, onMessage, onReconnect) => subscribers.add(channel, onMessage, onReconnect),

    healthy: () => publisher.status === 'ready' && listener.status === 'ready' && !publishFailed,

    async close() {
      subscribers.clear();
      await Promise.all([publisher, listener].map((r) => r.quit().then(noop, () => r.disconnect())));
    },
  };
}
