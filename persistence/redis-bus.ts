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

  // The messages this bus published whose echo has not come back yet, by byte length: a message
  // of our own that no subscriber wants is neither decoded nor parsed (every node hears its own
  // publishes; a large run's message is megabytes). Compared as bytes (the listener takes
  // `messageBuffer`, so ioredis makes no string of it). Bounded: an echo lost with a connection is
  // forgotten, its message at worst parsed once.
  const echoes = new Map<number, Buffer[]>();
  let echoCount = 0;
  const sent = (bytes: Buffer) => {
    const list = echoes.get(bytes.length);
    if (list) list.push(bytes);
    else echoes.set(bytes.length, [bytes]);
    if (++echoCount <= MAX_ECHOES) return;
    for (const [length, oldest] of echoes) {
      oldest.shift();
      if (oldest.length === 0) echoes.delete(length);
      echoCount--;
      break;
    }
  };
  const heard = (bytes: Buffer): boolean => {
    const list = echoes.get(bytes.length);
    const i = list ? list.findIndex((b) => b.equals(bytes)) : -1;
    if (!list || i < 0) return false;
    list.splice(i, 1);
    if (list.length === 0) echoes.delete(bytes.length);
    echoCount--;
    return true;
  };

  listener.on('messageBuffer', (channelBytes: Buffer, bytes: Buffer) => {
    const channel = channelBytes.toString();
    if (!channel.startsWith(options.prefix)) return;
    const name = channel.slice(options.prefix.length);
    const own = echoCount > 0 && heard(bytes);
    if (!subscribers.has(name, own)) return;
    const message = parseJsonMessage(bytes.toString());
    if (message !== undefined) subscribers.deliver(name, message, own);
  });

  return {
    async publish(channel, message) {
      // At-most-once: a message lost while Redis is away is caught up from Postgres.
      const raw = JSON.stringify(message);
      // Only heard back where this bus listens on the channel: then kept as the bytes sent.
      const bytes = subscribers.has(channel) ? Buffer.from(raw) : null;
      if (bytes) sent(bytes);
      try {
        await publisher.publish(full(channel), bytes ?? raw);
        publishFailed = false;
      } catch {
        if (bytes) heard(bytes);
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
