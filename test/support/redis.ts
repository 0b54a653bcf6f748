import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, inject } from 'vitest';

/** A Redis and a key prefix nobody else uses. */
export interface TestRedis {
  url: string;
  prefix: string;
}

/** The Redis of this test run with a fresh prefix, or null when there is none. */
export function testRedis(): TestRedis | null {
  const url = inject('redisUrl');
  return url === null ? null : { url, prefix: `hitl-test:${randomBytes(6).toString('hex')}:` };
}

/** `describe` when Redis is there; otherwise a skipped suite and one line saying why. */
export function describeWithRedis(name: string, fn: (redis: TestRedis) => void): void {
  const redis = testRedis();
  if (redis === null) {
    const where = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
    console.log(`skipped ${name}: no Redis at ${where} (set TEST_REDIS_URL)`);
    describe.skip(name, () => undefined);
    return;
  }
  describe(name, () => fn(redis));
}

/** Deletes every key under the prefix. */
export async function clearRedisPrefix({ url, prefix }: TestRedis): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
