import type { Redis } from 'ioredis';
import { parseJsonMessage } from './cache-entry.ts';
import { connectRedis } from './redis-connect.ts';
import type { Bus, Json } from './types.ts';

interface Subscriber {
  onMessage: (message: Json) => void;
  onReconnect: (() => void) | undefined;
}

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
  const channels = new Map<string, Set<Subscriber>>();
  const full = (channel: string) => `${options.prefix}${channel}`;
  let everReady = false;
  let publishFailed = false;

  listener.on('ready', () => {
    const reconnected = everReady;
    everReady = true;
    const names = [...channels.keys()].map(full);
    const subscribed = names.length > 0 ? listener.subscribe(...names) : Promise.resolve(0);
    subscribed.then(
      () => {
        if (!reconnected) return;
        for (const subs of channels.values()) for (const s of subs) safely(s.onReconnect);
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
    const subs = channels.get(channel.slice(options.prefix.length));
    const message = parseJsonMessage(raw);
    if (subs === undefined || message === undefined) return;
    for (const s of [...subs]) safely(() => s.onMessage(message));
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

    subscribe(channel, onMessage, onReconnect) {
      const sub: Subscriber = { onMessage, onReconnect };
      let subs = channels.get(channel);
      if (subs === undefined) {
        subs = new Set();
        channels.set(channel, subs);
        // Not ready yet: the 'ready' handler subscribes to every channel known by then.
        if (listener.status === 'ready') listener.subscribe(full(channel)).catch(noop);
      }
      subs.add(sub);
      return () => {
        const current = channels.get(channel);
        if (current === undefined || !current.delete(sub) || current.size > 0) return;
        channels.delete(channel);
        if (listener.status === 'ready') listener.unsubscribe(full(channel)).catch(noop);
      };
    },

    healthy: () => publisher.status === 'ready' && listener.status === 'ready' && !publishFailed,

    async close() {
      channels.clear();
      await Promise.all([publisher, listener].map((r) => r.quit().then(noop, () => r.disconnect())));
    },
  };
}

/** One subscriber's exception must not stop delivery to the others. */
function safely(fn: (() => void) | undefined): void {
  try {
    fn?.();
  } catch {
    // The subscriber owns its errors; the bus has nobody to report them to.
  }
}
