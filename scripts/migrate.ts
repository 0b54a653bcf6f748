/** `npm run migrate`: applies pending migrations to DATABASE_URL and says what it did. */
import { migrate } from '../persistence/migrate.ts';
import { connectPostgres } from '../persistence/postgres.ts';

const url = process.env['DATABASE_URL'];
if (url === undefined || url === '') {
  console.error('migrate: DATABASE_URL is not set');
  process.exit(2);
}

const sql = connectPostgres(url, { max: 2 });
try {
  const applied = await migrate(sql);
  console.log(applied.length === 0 ? 'migrate: up to date' : `migrate: applied ${applied.join(', ')}`);
} catch (err) {
  // Only the message: a driver error can carry host and port, never print the URL itself.
  console.error(`migrate: failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  await sql.end({ timeout: 5 });
}
