import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runUntilExit, serviceEnv, startupFailure } from '../support/service.ts';

/**
 * `npm start` with the embedded Postgres failing to start, one cause at a time: the service
 * must end with exit code 1 and one message saying what is wrong and what to do — no stack
 * trace, no unhandled 'error' event. (Missing binaries: see first-command.test.ts.)
 */

const ROOT = join(import.meta.dirname, '..', '..');
const asRoot = process.getuid?.() === 0;
const dirs: string[] = [];

/** A fresh directory; `open` lets the `postgres` user pass through (as root it runs the server). */
async function tempDir(open = true): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hitl-startup-'));
  dirs.push(dir);
  if (open) await chmod(dir, 0o711);
  return dir;
}

afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const start = (dataDir: string, extra: Record<string, string> = {}) =>
  runUntilExit(ROOT, serviceEnv({ HITL_DATA_DIR: dataDir, PORT: '0', ...extra }));

describe('a failed start of the embedded PostgreSQL', () => {
  it('names a taken HITL_EMBEDDED_PG_PORT and how to pick another, and exits 1', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const address = taken.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      const ended = startupFailure(
        await start(join(await tempDir(), 'data'), { HITL_EMBEDDED_PG_PORT: `${port}` }),
      );
      expect(ended.code).toBe(1);
      expect(ended.message).toMatch(new RegExp(`^hitl-runs failed to start: port ${port} is in use`));
      expect(ended.message).toContain('Set HITL_EMBEDDED_PG_PORT to a free port');
      expect(ended.noise).toEqual([]);
    } finally {
      taken.close();
    }
  });

  it('names a data dir of another PostgreSQL major version, both versions and the way out, and exits 1', async () => {
    const dataDir = join(await tempDir(), 'data');
    await mkdir(join(dataDir, 'pg'), { recursive: true });
    await writeFile(join(dataDir, 'pg', 'PG_VERSION'), '16\n');
    const ended = startupFailure(await start(dataDir));
    expect(ended.code).toBe(1);
    expect(ended.message).toContain(`data directory ${join(dataDir, 'pg')} was made by PostgreSQL 16`);
    expect(ended.message).toContain('the embedded server is PostgreSQL 17');
    expect(ended.message).toMatch(/move it away .*point HITL_DATA_DIR elsewhere/);
    expect(ended.noise).toEqual([]);
  });

  it('refuses a data dir holding something else than a cluster, and exits 1', async () => {
    const dataDir = join(await tempDir(), 'data');
    await mkdir(join(dataDir, 'pg'), { recursive: true });
    await writeFile(join(dataDir, 'pg', 'notes.txt'), 'mine');
    const ended = startupFailure(await start(dataDir));
    expect(ended.code).toBe(1);
    expect(ended.message).toContain(`${join(dataDir, 'pg')} is not empty and has no PG_VERSION`);
    expect(ended.noise).toEqual([]);
  });

  it.skipIf(!asRoot)(
    'as root, names a data dir the postgres user cannot reach, the directory in the way and the fix, and exits 1',
    async () => {
      // mkdtemp makes a 0700 directory: `postgres` cannot pass through it, as with /root.
      const parent = await tempDir(false);
      expect((await stat(parent)).mode & 0o777).toBe(0o700);
      const dataDir = join(parent, 'data');
      const ended = startupFailure(await start(dataDir));
      expect(ended.code).toBe(1);
      expect(ended.message).toContain(`the OS user "postgres"`);
      expect(ended.message).toContain(
        `cannot reach the data directory ${dataDir} (${parent} is not searchable by it)`,
      );
      expect(ended.message).toContain('Set HITL_DATA_DIR to a directory it can reach');
      expect(ended.noise).toEqual([]);
      // Nothing of the parent was opened up to make it work.
      expect((await stat(parent)).mode & 0o777).toBe(0o700);
    },
  );
});
