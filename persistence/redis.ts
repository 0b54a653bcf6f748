import type { Redis, Result } from 'ioredis';
import { BLOB_MIN_CHARS, dehydrate, hydrate, refsIn } from './blobs.ts';
import { cacheEntryText, parseCacheEntry } from './cache-entry.ts';
import { keptText } from './json-once.ts';
import type { Json, JsonInput, SnapshotCache } from './types.ts';

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
  /** Key prefix, e.g. `hitl:`; entries live at `<prefix>entry:<runId>`, their long strings at
   *  `<prefix>blob:<runId>:<sha256>`. */
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

// A stored entry's long strings are references (`persistence/blobs.ts`); JSON writes the marker's
// control character as this escape, so an entry without it has none and is read as it is.
const MARKED = '\\u0001hitl:';
const MAX_KNOWN_BLOBS = 20_000;

/**
 * Snapshot cache in Redis; every operation fails soft (a miss, `false`, or nothing).
 *
 * Write volume follows the change here too (issue 7): a string of at least `BLOB_MIN_CHARS` in an
 * entry (a run's large input, which its snapshot repeats) is stored once per run under its own key
 * and the entry holds a reference. Later entries of the run only renew that key's expiry. The
 * blob is sent before the entry on the same connection, so an entry never lands before its blobs;
 * a blob gone (evicted, flushed) makes the entry a miss, never a wrong value. Entries live under
 * `entry:`, not the `snapshot:` of earlier versions, which would not resolve the references.
 */
export function createRedisCache(redis: Redis, options: RedisCacheOptions): SnapshotCache {
  // Defined once per client (several caches may share one); the type says it exists, so ask at runtime.
  if (typeof Reflect.get(redis, 'hitlCas') !== 'function')
    redis.defineCommand('hitlCas', { numberOfKeys: 1, lua: CAS_SCRIPT });
  const key = (runId: string) => `${options.prefix}entry:${runId}`;
  const blobKey = (runId: string, sha: string) => `${options.prefix}blob:${runId}:${sha}`;
  // The blobs this cache wrote (`runId/sha`): renewed, not sent again. Bounded; forgetting one
  // only means sending it again.
  const known = new Set<string>();
  const remember = (k: string) => {
    known.delete(k);
    known.add(k);
    for (const old of known) {
      if (known.size <= MAX_KNOWN_BLOBS) break;
      known.delete(old);
    }
  };
  let lastFailed = false;
  const failed = () => {
    lastFailed = true;
  };
  const succeeded = () => {
    lastFailed = false;
  };
  // A failure is forgotten once the connection is (re)established, not only after the next call.
  redis.on('ready', succeeded);

  /** The entry's value with its long strings stored apart; the writes are queued before the entry. */
  function withBlobs(runId: string, value: JsonInput): JsonInput {
    // A record whose object fields already have their JSON kept from the batch (`jsonOnce` of a
    // value the blob walk left as it was) holds no long string: not walked again.
    if (isRecord(value) && Object.values(value).every(plainField)) return value;
    const found = new Map<string, string>();
    const stored = dehydrate(value, found) as JsonInput;
    for (const [sha, body] of found) {
      const k = `${runId}/${sha}`;
      if (known.has(k)) {
        redis.expire(blobKey(runId, sha), options.ttlSeconds).then(
          (renewed) => {
            // Gone since (evicted or flushed): sent again with the next entry.
            if (renewed !== 1) known.delete(k);
          },
          () => known.delete(k),
        );
      } else {
        redis.set(blobKey(runId, sha), body, 'EX', options.ttlSeconds).then(
          () => remember(k),
          () => known.delete(k),
        );
      }
    }
    return stored;
  }

  /** Resolves the references of a stored value; undefined when a blob is gone (a miss). */
  async function resolved(runId: string, value: Json): Promise<Json | undefined> {
    const shas = new Set<string>();
    refsIn(value, shas);
    const list = [...shas];
    const bodies = list.length > 0 ? await redis.mget(list.map((sha) => blobKey(runId, sha))) : [];
    const bySha = new Map<string, string>();
    for (const [i, sha] of list.entries()) {
      const body = bodies[i];
      if (typeof body !== 'string') return undefined;
      bySha.set(sha, body);
    }
    return hydrate(value, (sha) => bySha.get(sha) ?? '') as Json;
  }

  return {
    async get(runId) {
      try {
        const raw = await redis.get(key(runId));
        const entry = parseCacheEntry(raw);
        const value = entry && raw?.includes(MARKED) ? await resolved(runId, entry.value) : entry?.value;
        succeeded();
        return entry && value !== undefined ? { version: entry.version, value } : null;
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
          cacheEntryText(version, withBlobs(runId, value)),
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

/** A field that holds no long or marked string: a short string, a scalar, or an object whose JSON
 *  the batch kept (the blob walk found nothing to replace in it). */
function plainField(v: unknown): boolean {
  if (typeof v === 'string') return v.length < BLOB_MIN_CHARS && v.charCodeAt(0) !== 1;
  if (v === null || typeof v !== 'object') return true;
  return isRecord(v) && keptText(v) !== undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
