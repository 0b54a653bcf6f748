import type { Redis, Result } from 'ioredis';
import { cacheEntryText, parseCacheEntry } from './cache-entry.ts';
import type { SnapshotCache } from './types.ts';

export { createRedisBus } from './redis-bus.ts';
export { connectRedis, redisOptions, redisReady } from './redis-connect.ts';

// Stores only when there is no entry, the entry is not one of ours, or its version is lower. Our
// entries start `{"version":N,"value":` (written so below): the version is read from that prefix,
// not by decoding the whole entry (a run's envelope, kilobytes of JSON, on every commit).
const CAS_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if current then
  local version = string.match(current, '^{"version":(%d+),"value":')
  if version and tonumber(version) >= tonumber(ARGV[1]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
`;

/** Options of `createRedisCache`. */
export interface RedisCacheOptions {
  /** Key prefix, e.g. `hitl:`; entries live at `<prefix>snapshot:<runId>`. */
  prefix: string;
  /** Entries expire after this long without a write. */
  ttlSeconds: number;
}

// The CAS script as a command: EVALSHA (the script's text is sent once, not with every write).
// Declared the way ioredis documents for `defineCommand`.
declare module 'ioredis' {
  interface RedisCommander<Context> {
    hitlCas(key: string, version: number, payload: string, ttl: number): Result<number, Context>;
  }
}

/** Snapshot cache in Redis; every operation fails soft (a miss, `false`, or nothing). */
export function createRedisCache(redis: Redis, options: RedisCacheOptions): SnapshotCache {
  // Defined once per client (several caches may share one); the type says it exists, so ask at runtime.
  if (typeof Reflect.get(redis, 'hitlCas') !== 'function')
    redis.defineCommand('hitlCas', { numberOfKeys: 1, lua: CAS_SCRIPT });
  const key = (runId: string) => `${options.prefix}snapshot:${runId}`;
  let lastFailed = false;
  const failed = () => {
    lastFailed = true;
  };
  const succeeded = () => {
    lastFailed = false;
  };
  // A failure is forgotten once the connection is (re)established, not only after the next call.
  redis.on('ready', succeeded);

  return {
    async get(runId) {
      try {
        const raw = await redis.get(key(runId));
        succeeded();
        return parseCacheEntry(raw);
      } catch {
        failed();
        return null;
      }
    },

    async set(runId, version, value) {
      try {
        const stored = await redis.hitlCas(
          key(runId),
          version,
          cacheEntryText(version, value),
          options.ttlSeconds,
        );
        succeeded();
        return stored === 1;
      } catch {
        failed();
        return false;
      }
    },

    async del(runId) {
      try {
        await redis.del(key(runId));
        succeeded();
      } catch {
        // What stays behind is older than Postgres, never ahead of it; healthy() tells /readyz.
        failed();
      }
    },

    healthy: () => redis.status === 'ready' && !lastFailed,

    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
