import type { RedisOptions } from 'ioredis';
import { Redis } from 'ioredis';

/**
 * Connection settings for every Redis connection of the service. Redis is only a cache and a
 * fan-out, so a command fails at once instead of queueing while Redis is away; reconnecting goes
 * on in the background with a delay capped at 2 s, so the cache comes back when Redis does.
 */
export function redisOptions(name: string): RedisOptions {
  return {
    connectionName: name,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 2_000,
    commandTimeout: 2_000,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2_000),
    // Commands issued in one tick (a group commit's cache writes and publishes) go out as one
    // pipelined write: one round trip per batch.
    enableAutoPipelining: true,
  };
}

/** A Redis client with `redisOptions`; errors are reported through `healthy()`, not thrown events. */
export function connectRedis(url: string, name = 'hitl-runs', extra: RedisOptions = {}): Redis {
  const redis = new Redis(url, { ...redisOptions(name), ...extra });
  // Without a listener ioredis prints every connection error; status already tells the story.
  redis.on('error', () => undefined);
  return redis;
}

/** Resolves once `redis` is ready, or rejects after `timeoutMs`. */
export function redisReady(redis: Redis, timeoutMs = 2_000): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error(`Redis not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
  });
}
