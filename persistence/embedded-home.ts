import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/** Where, as root, the embedded PostgreSQL keeps what the `postgres` OS user must reach. */
export const STATE_ROOT = '/var/lib/hitl-runs';

/** Inputs of `embeddedHome`. */
export interface HomeOptions {
  /** `HITL_DATA_DIR`, or the default `./data`. */
  dataDir: string;
  /** Whether `HITL_DATA_DIR` was set: then it is used as it is. */
  explicit: boolean;
  /** Whether the server runs as another OS user (`postgres`, when the service runs as root). */
  asRoot: boolean;
  stateRoot?: string;
}

/**
 * The directory holding the embedded cluster (`pg/`) and its password (`pg-password`).
 * It is the data dir, except as root with the default data dir: a checkout may sit where the
 * `postgres` user cannot go (`/root`, a `mktemp -d` directory), so the cluster lives in
 * `<stateRoot>/<checkout name>-<hash of the data dir's absolute path>`: durable, one per
 * checkout, found again on every start. A cluster already in `./data/pg` stays where it is.
 */
export function embeddedHome(options: HomeOptions): string {
  const dataDir = resolve(options.dataDir);
  if (!options.asRoot || options.explicit) return dataDir;
  if (existsSync(join(dataDir, 'pg', 'PG_VERSION'))) return dataDir;
  const hash = createHash('sha256').update(dataDir).digest('hex').slice(0, 12);
  const name = basename(dirname(dataDir)).replace(/[^A-Za-z0-9._-]/g, '_') || 'root';
  return join(options.stateRoot ?? STATE_ROOT, `${name}-${hash}`);
}
