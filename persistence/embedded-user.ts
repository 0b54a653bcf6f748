import { execFile, spawn } from 'node:child_process';
import { chmod, mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { promisify } from 'node:util';
import { EmbeddedPostgresError } from './embedded-errors.ts';

const exec = promisify(execFile);

/** The OS user the embedded server runs as when the service runs as root. */
export interface ServerUser {
  name: string;
  uid: number;
  gid: number;
}

const NAME = 'postgres';

async function lookup(name: string): Promise<ServerUser | null> {
  try {
    const [uid, gid] = await Promise.all([exec('id', ['-u', name]), exec('id', ['-g', name])]);
    return { name, uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    return null;
  }
}

/**
 * As root, the `postgres` OS user (PostgreSQL refuses to run as root), made when missing;
 * otherwise null: the server runs as the service's own user.
 */
export async function serverUser(): Promise<ServerUser | null> {
  if (process.getuid?.() !== 0) return null;
  const found = await lookup(NAME);
  if (found) return found;
  try {
    // 9 = the group exists already (a user of that name does not).
    await exec('groupadd', ['--system', NAME]).catch((err: unknown) => {
      if ((err as { code?: unknown }).code !== 9) throw err;
    });
    await exec('useradd', ['--system', '--gid', NAME, '--no-create-home', '--shell', '/bin/false', NAME]);
  } catch (err) {
    const detail = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new EmbeddedPostgresError(
      'embedded_pg_os_user',
      `the embedded PostgreSQL cannot run as root and there is no "${NAME}" OS user; making one ` +
        `failed (${detail}). Create it (useradd --system ${NAME}), run as another user, or set DATABASE_URL.`,
    );
  }
  const made = await lookup(NAME);
  if (!made)
    throw new EmbeddedPostgresError('embedded_pg_os_user', `the "${NAME}" OS user was made but not found`);
  return made;
}

/**
 * Runs `file args` as `user` and resolves its exit code, or the spawn error's code (EACCES when
 * the user cannot reach the file): never throws, never leaves an unhandled 'error' event.
 */
export function runAs(user: ServerUser, file: string, args: string[]): Promise<number | string> {
  return new Promise((done) => {
    const child = spawn(file, args, { uid: user.uid, gid: user.gid, stdio: 'ignore', cwd: '/' });
    child.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
    child.once('exit', (code, signal) => done(code ?? signal ?? 'unknown'));
  });
}

/** Whether `user` can search (reach into) `dir`: every parent and `dir` itself. */
export async function canReach(user: ServerUser, dir: string): Promise<boolean> {
  return (await runAs(user, '/bin/sh', ['-c', 'test -d "$1" && test -x "$1"', 'sh', dir])) === 0;
}

/** The first directory on the way from `/` to `dir` that `user` cannot search, if any. */
export async function firstBlocked(user: ServerUser, dir: string): Promise<string | null> {
  const chain: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    chain.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of chain) if (!(await canReach(user, d))) return d;
  return null;
}

/**
 * Makes `dir`, and the parents this call creates, searchable by everyone (`--x`), so that the
 * `postgres` user can pass through; parents that existed before are left as they are.
 */
export async function makeSearchable(dir: string): Promise<void> {
  const target = resolve(dir);
  const first = await mkdir(target, { recursive: true });
  const dirs = [target];
  if (first !== undefined) {
    for (let d = dirname(target); d.length >= first.length && d !== target; d = dirname(d)) dirs.push(d);
  }
  for (const d of dirs) {
    const { mode } = await stat(d);
    if ((mode & 0o011) !== 0o011) await chmod(d, mode | 0o011);
  }
}
