import { execFile } from 'node:child_process';
import { cp, lstat, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Sql } from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { binariesPackageDir, ensureEmbeddedBinaries } from '../../persistence/embedded-binaries.ts';
import { freePort, startEmbeddedPostgres } from '../../persistence/embedded-postgres.ts';
import { socketDirFor } from '../../persistence/embedded-server.ts';
import { connectPostgres } from '../../persistence/postgres.ts';

const run = promisify(execFile);
const dirs: string[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hitl-embedded-'));
  dirs.push(dir);
  return dir;
}

afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function query<T extends object>(url: string, fn: (sql: Sql) => Promise<T[]>): Promise<T[]> {
  const sql = connectPostgres(url, { max: 1 });
  try {
    return await fn(sql);
  } finally {
    await sql.end();
  }
}

describe('embedded PostgreSQL', () => {
  it('starts from a fresh data dir, keeps data, and restarts on the same dir', {
    timeout: 60_000,
  }, async () => {
    const dataDir = await tempDir();
    const port = await freePort();
    const sigterm = process.listeners('SIGTERM').length;
    const first = await startEmbeddedPostgres({ dataDir, port });
    // Shutdown stays with the caller: the package's own signal handlers are taken off again.
    expect(process.listeners('SIGTERM')).toHaveLength(sigterm);
    try {
      expect(first.port).toBe(port);
      expect(first.url).toMatch(
        new RegExp(`^postgres://postgres:[0-9a-f]+@127\\.0\\.0\\.1:${port}/hitl\\?host=%2F.+$`),
      );
      const [row] = await query(
        first.url,
        (sql) =>
          sql<{ major: string; addr: string | null }[]>`
            select current_setting('server_version_num') as major, inet_server_addr()::text as addr`,
      );
      expect(row?.major.slice(0, 2)).toBe('17');
      // The service's URL goes through the Unix-domain socket (no server address); TCP still answers.
      expect(row?.addr).toBeNull();
      const tcpUrl = first.url.replace(/\?.*$/, '');
      const [tcp] = await query(
        tcpUrl,
        (sql) => sql<{ addr: string }[]>`select inet_server_addr()::text as addr`,
      );
      expect(tcp?.addr).toBe('127.0.0.1/32');
      await query(first.url, (sql) =>
        sql`create table kept (v text); insert into kept values ('still here')`.simple(),
      );
    } finally {
      await first.stop();
    }
    expect(new URL(first.url).searchParams.get('host')).toBe(join(dataDir, 'run'));
    const second = await startEmbeddedPostgres({ dataDir });
    try {
      const rows = await query(second.url, (sql) => sql<{ v: string }[]>`select v from kept`);
      expect(rows).toEqual([{ v: 'still here' }]);
    } finally {
      await second.stop();
    }
  });

  it('puts its socket in <data dir>/run (0700), and falls back to TCP where a socket cannot be', async () => {
    const proc = { bin: { dir: '', initdb: '', postgres: '' }, user: null, log: () => undefined };
    const dataDir = await tempDir();
    const dir = await socketDirFor(dataDir, 54321, proc);
    expect(dir).toBe(join(dataDir, 'run'));
    expect((await lstat(join(dataDir, 'run'))).mode & 0o777).toBe(0o700);
    // A socket's path is limited to 107 bytes; the settings list splits on commas.
    expect(await socketDirFor(join(dataDir, 'x'.repeat(90)), 54321, proc)).toBeNull();
    expect(await socketDirFor(join(dataDir, 'a,b'), 54321, proc)).toBeNull();
  });

  it('refuses a data dir made by another major version, naming both', async () => {
    const dataDir = await tempDir();
    await mkdir(join(dataDir, 'pg'));
    await writeFile(join(dataDir, 'pg', 'PG_VERSION'), '16\n');
    const started = startEmbeddedPostgres({ dataDir });
    await expect(started).rejects.toThrow(/PostgreSQL 16.*PostgreSQL 17/);
    await expect(started).rejects.toThrow(join(dataDir, 'pg'));
    await expect(started).rejects.toMatchObject({ code: 'embedded_pg_version_mismatch' });
  });

  it('refuses a port that is taken, saying so', async () => {
    const dataDir = await tempDir();
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const address = taken.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      await expect(startEmbeddedPostgres({ dataDir, port })).rejects.toMatchObject({
        code: 'embedded_pg_port_in_use',
        message: expect.stringContaining(`port ${port} is in use`),
      });
    } finally {
      taken.close();
    }
  });

  it('refuses a non-empty dir that is not a PostgreSQL data dir', async () => {
    const dataDir = await tempDir();
    await mkdir(join(dataDir, 'pg'));
    await writeFile(join(dataDir, 'pg', 'notes.txt'), 'mine');
    await expect(startEmbeddedPostgres({ dataDir })).rejects.toMatchObject({
      code: 'embedded_pg_not_a_data_dir',
      message: expect.stringMatching(/not a PostgreSQL data directory/),
    });
  });

  it('makes the library links the skipped install script would have made', { timeout: 30_000 }, async () => {
    // A copy of the binaries package without any of its symlinks, as npm ships it.
    const pkg = await tempDir();
    const from = binariesPackageDir();
    for (const sub of ['bin', 'lib']) {
      await cp(join(from, 'native', sub), join(pkg, 'native', sub), {
        recursive: true,
        filter: async (src) => !(await lstat(src)).isSymbolicLink(),
      });
    }
    await cp(join(from, 'native', 'pg-symlinks.json'), join(pkg, 'native', 'pg-symlinks.json'));
    const postgresBin = join(pkg, 'native', 'bin', 'postgres');
    await expect(run(postgresBin, ['--version'])).rejects.toThrow(/libicu/);
    await ensureEmbeddedBinaries(pkg);
    const { stdout } = await run(postgresBin, ['--version']);
    expect(stdout).toMatch(/PostgreSQL\) 17\./);
  });
});
