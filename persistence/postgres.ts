import type { Sql } from 'postgres';
import postgres from 'postgres';
import { createAnalyzeOnGrowth } from './postgres-analyze.ts';
import { createApprovalOps } from './postgres-approvals.ts';
import { commitBatch } from './postgres-batch.ts';
import { createBlobMemory, packRefs, unpackRefs } from './postgres-blobs.ts';
import { guard } from './postgres-errors.ts';
import { createKeyOps } from './postgres-keys.ts';
import { createRunOps } from './postgres-runs.ts';
import { createTimerOps } from './postgres-timers.ts';
import type { RunStore } from './types.ts';

/** Options for `connectPostgres`; anything else uses postgres.js defaults. */
export interface ConnectOptions {
  /** Pool size (default 10; `migrate` needs at least 2). */
  max?: number;
  /** Seconds to wait for a connection before failing with `unavailable` (default 5). */
  connectTimeout?: number;
}

/** A postgres.js pool with the settings the store expects (quiet notices, short connect timeout). */
export function connectPostgres(url: string, options: ConnectOptions = {}): Sql {
  const { url: tcpUrl, socketDir } = splitSocketDir(url);
  return postgres(tcpUrl, {
    // The socket's name ends in the port (`.s.PGSQL.<port>`): given with the directory, since a
    // `host` option makes postgres.js forget the URL's port (and take 5432).
    ...(socketDir ? { host: socketDir, port: Number(new URL(tcpUrl).port) || 5432 } : {}),
    max: options.max ?? 10,
    connect_timeout: options.connectTimeout ?? 5,
    idle_timeout: 30,
    // Seconds before a failed connection is retried. postgres.js's default grows to 10-20 s after a
    // few refused connects, and between two attempts it answers every query at once with the last
    // failure (`unavailable` for our callers): capped at 0.25 s, a node answers again within a
    // quarter of a second of Postgres coming back (a refused connect four times a second while it
    // is down costs nothing).
    backoff: (attempt: number) => Math.min(0.05 * 2 ** attempt, 0.25),
    // `create … if not exists` and friends are not worth a line on stdout.
    onnotice: () => undefined,
    connection: { application_name: 'hitl-runs' },
  });
}

/**
 * libpq's way to name a Unix-domain socket, `?host=/var/run/postgresql` (a directory), with the
 * URL's port: taken out of the URL and given as postgres.js's `host` and `port` options (it reads
 * no socket directory from a URL before version 4, and no port with one in any version).
 */
export function splitSocketDir(url: string): { url: string; socketDir: string | null } {
  const u = new URL(url);
  const dir = u.searchParams.get('host');
  if (!dir?.startsWith('/')) return { url, socketDir: null };
  u.searchParams.delete('host');
  return { url: u.toString(), socketDir: dir };
}

// The operations that write: each is one transaction (counted for the benchmark's figures).
const WRITES = [
  'createRun',
  'commit',
  'commitBatch',
  'renewLeases',
  'createApproval',
  'updateApproval',
  'claimDueTimers',
  'completeTimer',
  'rescheduleTimer',
  'putIdempotency',
  'finishIdempotency',
  'releaseIdempotency',
  'rememberWebhook',
] as const;

/** The record in Postgres (SPEC §8). `close()` ends the pool it was given. */
export function createPostgresStore(sql: Sql): RunStore {
  let writes = 0;
  const blobs = createBlobMemory();
  const analyzeOnGrowth = createAnalyzeOnGrowth(sql);
  const store: RunStore = {
    ...createRunOps(sql, blobs),
    ...createApprovalOps(sql),
    ...createTimerOps(sql),
    ...createKeyOps(sql),
    commitBatch: (items) => {
      analyzeOnGrowth(items.length);
      return commitBatch(sql, items, blobs);
    },
    messageRefs: {
      pack: packRefs,
      unpack: (runId, value) => guard('read', () => unpackRefs(sql, runId, value)),
    },
    ping: () =>
      guard('ping', async () => {
        await sql`select 1`;
      }),
    writeTransactions: () => writes,
    close: () => sql.end({ timeout: 5 }),
  };
  for (const name of WRITES) {
    const fn: (...a: never[]) => Promise<unknown> = store[name];
    // The same function, counting its call: replaced in place, so its type is unchanged.
    Reflect.set(store, name, (...a: never[]) => {
      writes++;
      return fn(...a);
    });
  }
  return store;
}
