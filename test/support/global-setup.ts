import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../persistence/embedded-postgres.ts';
import { connectPostgres } from '../../persistence/postgres.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A Postgres URL allowed to create and drop databases. */
    pgAdminUrl: string;
    /** A Redis to test against, or null when none answers (Redis tests are then skipped). */
    redisUrl: string | null;
  }
}

const PROBE_MS = 2_000;

/** The URL with its password masked, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

async function postgresAnswers(url: string): Promise<boolean> {
  const sql = connectPostgres(url, { max: 1, connectTimeout: PROBE_MS / 1000 });
  const timeout = new Promise<false>((resolve) => setTimeout(() => resolve(false), PROBE_MS).unref());
  try {
    return await Promise.race([sql`select 1`.then(() => true), timeout]);
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 }).catch(() => undefined);
  }
}

async function redisAnswers(url: string): Promise<boolean> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: PROBE_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/**
 * Picks the services for the whole run: the machine's Postgres, else an embedded one in a temp
 * dir; the machine's Redis, else none. `HITL_REQUIRE_SERVICES=1` (CI) refuses both fallbacks.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const required = process.env['HITL_REQUIRE_SERVICES'] === '1';
  const pgUrl = process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
  const redisUrl = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  const stops: Array<() => Promise<void>> = [];

  if (await postgresAnswers(pgUrl)) {
    project.provide('pgAdminUrl', pgUrl);
  } else if (required) {
    throw new Error(
      `HITL_REQUIRE_SERVICES=1: no Postgres answers at ${redactUrl(pgUrl)} (set TEST_DATABASE_URL)`,
    );
  } else {
    const dir = await mkdtemp(join(tmpdir(), 'hitl-test-pg-'));
    const pg = await startEmbeddedPostgres({ dataDir: dir });
    console.log(`tests use an embedded PostgreSQL on port ${pg.port}: none at ${redactUrl(pgUrl)}`);
    stops.push(async () => {
      await pg.stop();
      await rm(dir, { recursive: true, force: true });
    });
    project.provide('pgAdminUrl', pg.url);
  }

  if (await redisAnswers(redisUrl)) {
    project.provide('redisUrl', redisUrl);
  } else if (required) {
    throw new Error(
      `HITL_REQUIRE_SERVICES=1: no Redis answers at ${redactUrl(redisUrl)} (set TEST_REDIS_URL)`,
    );
  } else {
    project.provide('redisUrl', null);
  }

  return async () => {
    for (const stop of stops) await stop();
  };
}
