/**
 * `npm run verify -- <run_id> [<run_id>…]`: replays each run's event log through the machine and
 * compares the result with its stored snapshot (SPEC §2.6). Prints `{ run_id, seq, consistent }`
 * per run, one JSON line each; exits 1 when a run is inconsistent or not found.
 */
import { HitlError } from '../actors/errors.ts';
import { createProviderRegistry } from '../actors/providers/registry.ts';
import { createRunHost } from '../actors/run-host.ts';
import { createMemoryBus, createMemoryCache } from '../persistence/memory.ts';
import { connectPostgres, createPostgresStore } from '../persistence/postgres.ts';

const url = process.env['DATABASE_URL'];
const runIds = process.argv.slice(2).filter((a) => a !== '--');
if (url === undefined || url === '') {
  console.error('verify: DATABASE_URL is not set');
  process.exit(2);
}
if (runIds.length === 0) {
  console.error('verify: usage: npm run verify -- <run_id> [<run_id>…]');
  process.exit(2);
}

const store = createPostgresStore(connectPostgres(url, { max: 2 }));
// Verification reads the record only: no cache, no fan-out, no providers, and the host is never started.
const host = createRunHost({
  store,
  cache: createMemoryCache({ maxEntries: 1 }),
  bus: createMemoryBus(),
  providers: createProviderRegistry([]),
  node: 'verify',
});

try {
  for (const runId of runIds) {
    try {
      const result = await host.verify(runId);
      console.log(JSON.stringify(result));
      if (!result.consistent) process.exitCode = 1;
    } catch (err) {
      if (!(err instanceof HitlError && err.code === 'run_not_found')) throw err;
      console.error(`verify: run ${runId} not found`);
      process.exitCode = 1;
    }
  }
} catch (err) {
  // Only the message: a driver error can carry host and port, never print the URL itself.
  console.error(`verify: failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  await store.close();
}
