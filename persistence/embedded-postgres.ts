import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { locateBinaries } from './embedded-binaries.ts';
import { checkMajor, password, unreachable } from './embedded-datadir.ts';
import { EmbeddedPostgresError } from './embedded-errors.ts';
import { STATE_ROOT } from './embedded-home.ts';
import { initCluster, socketDirFor, startServer } from './embedded-server.ts';
import { canReach, firstBlocked, makeSearchable, serverUser } from './embedded-user.ts';
import { connectPostgres } from './postgres.ts';

export { EMBEDDED_PG_MAJOR } from './embedded-datadir.ts';

/** Options of `startEmbeddedPostgres`. */
export interface EmbeddedPostgresOptions {
  /** The cluster lives in `<dataDir>/pg`, its password in `<dataDir>/pg-password`, its socket in `<dataDir>/run`. */
  dataDir: string;
  /** Loopback port; a free one when omitted. */
  port?: number;
  /** Server and initdb output, line by line (default: dropped). */
  log?: (line: string) => void;
  /** As root: where binaries the `postgres` user cannot reach are copied (default `STATE_ROOT`). */
  stateRoot?: string;
}

/** A running embedded PostgreSQL. */
export interface EmbeddedPostgres {
  /** `postgres://…/hitl` on 127.0.0.1, with `?host=<socket dir>` when it listens on a Unix socket too. */
  url: string;
  port: number;
  /** The directory of its Unix-domain socket, which `url` names (null: loopback TCP only). */
  socketDir: string | null;
  /** The cluster's directory (absolute). */
  pgDir: string;
  /** The directory of the server binaries it runs. */
  binaries: string;
  stop(): Promise<void>;
}

/** Binds 127.0.0.1:`port` (0 = any) and closes again; resolves the port, or null if it is taken. */
function probePort(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(null));
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : null;
      server.close(() => resolve(bound));
    });
  });
}

/** Asks the OS for a free loopback port. */
export async function freePort(): Promise<number> {
  const port = await probePort(0);
  if (port === null) throw new Error('no free loopback port');
  return port;
}

async function ensureDatabase(url: string, name: string): Promise<void> {
  const sql = connectPostgres(url, { max: 1 });
  try {
    const found = await sql`select 1 from pg_database where datname = ${name}`;
    // 42P04: someone created it between our look and our create; fine.
    if (found.length === 0) await sql`create database ${sql(name)}`.catch(ignoreCode('42P04'));
  } finally {
    await sql.end({ timeout: 5 });
  }
}

const ignoreCode = (code: string) => (err: unknown) => {
  if (typeof err === 'object' && err !== null && 'code' in err && err.code === code) return;
  throw err;
};

/**
 * Starts the embedded PostgreSQL 17 (SPEC §8): initialises `<dataDir>/pg` the first time,
 * refuses a data dir of another major version, and creates the database `hitl`. As root it runs
 * the server as the `postgres` OS user, and refuses a data dir that user cannot reach.
 * Every failure is an `EmbeddedPostgresError` whose message says what to do.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const log = options.log ?? (() => undefined);
  const dataDir = resolve(options.dataDir);
  const pgDir = join(dataDir, 'pg');
  const user = await serverUser();
  const bin = await locateBinaries(user, options.stateRoot ?? STATE_ROOT);
  if (user) {
    await makeSearchable(dataDir);
    if (!(await canReach(user, dataDir))) throw unreachable(user, dataDir, await firstBlocked(user, dataDir));
  } else {
    await mkdir(dataDir, { recursive: true });
  }
  const state = await checkMajor(pgDir);
  const pass = await password(dataDir, state === 'fresh');
  const port = options.port ?? (await freePort());
  if (options.port !== undefined && (await probePort(port)) === null) {
    throw new EmbeddedPostgresError(
      'embedded_pg_port_in_use',
      `port ${port} is in use: the embedded PostgreSQL cannot listen there. ` +
        'Set HITL_EMBEDDED_PG_PORT to a free port, or leave it unset to pick one.',
    );
  }
  const proc = { bin, user, log };
  if (state === 'fresh') await initCluster(pgDir, pass, proc);
  const socketDir = await socketDirFor(dataDir, port, proc);
  const server = await startServer(pgDir, port, socketDir, proc);
  const base = `postgres://postgres:${pass}@127.0.0.1:${port}`;
  // Through the Unix-domain socket when there is one (libpq's `?host=/dir`, read by
  // connectPostgres); the TCP address stays in the URL for tools that do not read it.
  const via = socketDir ? `?host=${encodeURIComponent(socketDir)}` : '';
  try {
    await ensureDatabase(`${base}/postgres${via}`, 'hitl');
  } catch (err) {
    await server.stop();
    throw err;
  }
  return { url: `${base}/hitl${via}`, port, socketDir, pgDir, binaries: bin.dir, stop: () => server.stop() };
}
