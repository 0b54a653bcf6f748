import { existsSync } from 'node:fs';
import { describe, expect, inject, it } from 'vitest';
import { connectPostgres, splitSocketDir } from '../../persistence/postgres.ts';

describe('DATABASE_URL with ?host=/dir (a Unix-domain socket, as libpq reads it)', () => {
  it('takes the directory out of the URL and leaves every other URL as it is', () => {
    expect(splitSocketDir('postgres://u:p@127.0.0.1:5433/db?host=%2Frun%2Fpg&sslmode=disable')).toEqual({
      url: 'postgres://u:p@127.0.0.1:5433/db?sslmode=disable',
      socketDir: '/run/pg',
    });
    const tcp = 'postgres://u:p@db.example:5432/db?sslmode=require';
    expect(splitSocketDir(tcp)).toEqual({ url: tcp, socketDir: null });
    // A host that is not a path is not a socket: left for postgres.js to refuse or read.
    expect(splitSocketDir(`${tcp}&host=db2`)).toEqual({ url: `${tcp}&host=db2`, socketDir: null });
  });

  // The test database's URL names a socket when it is the embedded server; the machine's
  // PostgreSQL has one in /var/run/postgresql on Debian.
  const admin = inject('pgAdminUrl');
  const url = admin.includes('?host=')
    ? admin
    : existsSync('/var/run/postgresql/.s.PGSQL.5432') && new URL(admin).port === '5432'
      ? `${admin}?host=/var/run/postgresql`
      : null;
  if (!url)
    console.log('postgres-socket: skipped the connection test (no Unix socket for the test PostgreSQL)');
  it.skipIf(!url)('connects through the socket: the server has no address for the session', async () => {
    const sql = connectPostgres(url ?? '', { max: 1 });
    try {
      const [row] = await sql<{ addr: string | null }[]>`select inet_server_addr()::text as addr`;
      expect(row).toEqual({ addr: null });
    } finally {
      await sql.end({ timeout: 2 });
    }
  });
});
