import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, chown, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Binaries } from './embedded-binaries.ts';
import { EmbeddedPostgresError } from './embedded-errors.ts';
import type { ServerUser } from './embedded-user.ts';

/** `Promise.withResolvers` (Node 22+) for Node 20. */
function withResolvers(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** How the server processes are run: as whom, and where their output goes. */
export interface ProcessOptions {
  bin: Binaries;
  /** The `postgres` OS user when the service runs as root, else null. */
  user: ServerUser | null;
  log: (line: string) => void;
}

const READY = 'database system is ready to accept connections';
const START_MS = 60_000;
const STOP_MS = 20_000;

function launch(
  file: string,
  args: string[],
  o: ProcessOptions,
  recent: string[],
  watch: (line: string) => void = () => undefined,
): ChildProcess {
  const child = spawn(file, args, {
    ...(o.user ? { uid: o.user.uid, gid: o.user.gid } : {}),
    // English messages (the ready line is matched), and no locale the machine may lack.
    env: { ...process.env, LC_ALL: 'C', LANG: 'C' },
    cwd: '/',
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: a Ctrl-C meant for the service must not stop the database
    // before the service has drained (it stops the server itself, last).
    detached: true,
  });
  const onLine = (line: string) => {
    if (line.trim() === '') return;
    recent.push(line);
    if (recent.length > 20) recent.shift();
    o.log(line);
    watch(line);
  };
  if (child.stdout) createInterface({ input: child.stdout }).on('line', onLine);
  if (child.stderr) createInterface({ input: child.stderr }).on('line', onLine);
  return child;
}

/** Exit code, signal or spawn error code, once the process is gone and its output read. */
const ended = (child: ChildProcess) =>
  new Promise<number | string>((done) => {
    child.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
    child.once('close', (code, signal) => done(code ?? signal ?? 'unknown'));
  });

const failed = (what: string, detail: string, recent: string[]) =>
  new EmbeddedPostgresError(
    'embedded_pg_failed',
    `${what}: ${detail}${recent.length > 0 ? `\n  ${recent.slice(-5).join('\n  ')}` : ''}`,
  );

/** Creates the cluster in `pgDir` (empty or missing) with `postgres` as superuser. */
export async function initCluster(pgDir: string, password: string, o: ProcessOptions): Promise<void> {
  await mkdir(pgDir, { recursive: true, mode: 0o700 });
  // initdb runs as the server's user: the password file must be readable by it, and only it.
  const pwfile = join(pgDir, '..', `.pwfile-${randomBytes(6).toString('hex')}`);
  await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  if (o.user) {
    await chown(pgDir, o.user.uid, o.user.gid);
    await chown(pwfile, o.user.uid, o.user.gid);
  }
  const recent: string[] = [];
  try {
    const args = [`--pgdata=${pgDir}`, '--username=postgres', `--pwfile=${pwfile}`];
    args.push('--auth=scram-sha-256', '--encoding=UTF8', '--no-locale');
    const child = launch(o.bin.initdb, args, o, recent);
    const outcome = await ended(child);
    if (outcome !== 0) throw failed(`initdb failed in ${pgDir}`, `exit ${outcome}`, recent);
  } finally {
    await rm(pwfile, { force: true });
  }
}

/** A running server process. */
export interface ServerProcess {
  /** Fast shutdown (SIGINT); resolves once the process is gone. */
  stop(): Promise<void>;
}

/** A socket path is limited to 107 bytes; `<dir>/.s.PGSQL.<port>` must fit. */
const SOCKET_PATH_MAX = 100;

/**
 * The directory of the server's Unix-domain socket (a connection through it costs less CPU than
 * loopback TCP, on both sides): `<dataDir>/run`, owned by the server's user, mode 0700, the same
 * on every start so a pool reconnects after a restart. Null (loopback TCP only) when its path
 * would be too long for a socket, holds a comma or a double quote, or it cannot be made.
 */
export async function socketDirFor(dataDir: string, port: number, o: ProcessOptions): Promise<string | null> {
  const dir = join(dataDir, 'run');
  if (Buffer.byteLength(`${dir}/.s.PGSQL.${port}`) > SOCKET_PATH_MAX) return null;
  // The setting is a comma-separated list that may quote: a path with either is left alone.
  if (/[,"]/.test(dir)) return null;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // As root the server's user is given it; else the server runs as us, and a directory left
    // by someone else (an earlier run as root) must not stop the server: TCP only then.
    if (o.user) await chown(dir, o.user.uid, o.user.gid);
    else await access(dir, constants.W_OK | constants.X_OK);
    return dir;
  } catch {
    return null;
  }
}

/**
 * Starts the server on 127.0.0.1:`port`, and on a Unix-domain socket in `socketDir` when given,
 * and resolves once it accepts connections.
 */
export async function startServer(
  pgDir: string,
  port: number,
  socketDir: string | null,
  o: ProcessOptions,
): Promise<ServerProcess> {
  const recent: string[] = [];
  const args = ['-D', pgDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1'];
  args.push('-c', `unix_socket_directories=${socketDir ?? ''}`, '-c', 'unix_socket_permissions=0700');
  args.push('-c', 'lc_messages=C');
  const { promise: ready, resolve: onReady } = withResolvers();
  const child = launch(o.bin.postgres, args, o, recent, (line) => {
    if (line.includes(READY)) onReady();
  });
  const exited = ended(child);
  // A service that exits without stopping it (a crash, process.exit) takes the server along.
  const onExit = () => child.kill('SIGINT');
  process.once('exit', onExit);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((r) => {
    timer = setTimeout(() => r('timeout'), START_MS);
  });
  const first = await Promise.race([ready.then(() => 'ready' as const), exited, timeout]);
  clearTimeout(timer);
  if (first !== 'ready') {
    process.removeListener('exit', onExit);
    if (first === 'timeout') {
      child.kill('SIGKILL');
      await exited;
    }
    const how = first === 'timeout' ? `not ready after ${START_MS / 1000} s` : `exit ${first}`;
    throw failed(`the embedded PostgreSQL did not start on port ${port} with ${pgDir}`, how, recent);
  }
  return {
    async stop() {
      process.removeListener('exit', onExit);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGINT');
      const slow = setTimeout(() => child.kill('SIGQUIT'), STOP_MS);
      await exited;
      clearTimeout(slow);
    },
  };
}
