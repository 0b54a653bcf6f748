// Server CPU per request for a few routes, vs the null server.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { startFakeReplicate } from '../test/support/fake-replicate.ts';
import { createClient } from '../scripts/bench/client.ts';
import { createScratch } from '../scripts/bench/pg.ts';
import { startService } from '../scripts/bench/service.ts';
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const KEY = `bench-${randomBytes(12).toString('hex')}`;
const scratch = createScratch('postgres://postgres@127.0.0.1:5432/postgres');
const fake = await startFakeReplicate({ defaultOutcome: { kind: 'succeed', atCreate: true, output: 'ok' },
  models: { 'bench/model': { latest_version: { id: 'v1', openapi_schema: { components: { schemas: { Input: { type: 'object', properties: { prompt: { type: 'string' } }, required: ['prompt'] } } } } } } } });
const tool = { 'replicate-agent-tool': { data: { name: 'bench/model', example_input: { prompt: 'x' } } } };
async function hammer(client: ReturnType<typeof createClient>, path: string, ms: number) {
  let n = 0; let stop = false;
  setTimeout(() => { stop = true; }, ms);
  await Promise.all(Array.from({ length: 8 }, async () => { while (!stop) { await client.call('GET', path); n++; } }));
  return n;
}
for (const which of (process.env.ONLY ? [process.env.ONLY] : ['null', 'service'])) {
  const svc = which === 'null'
    ? await startService(ROOT, ['--import', 'tsx', fileURLToPath(new URL('../scripts/bench/null-server.ts', import.meta.url))], {})
    : await startService(ROOT, [...(process.env.PROF ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.PROF] : []), '--import', 'tsx', 'server/main.ts'], { PORT: '0', DATABASE_URL: await scratch.database(), REDIS_URL: 'redis://127.0.0.1:6379', HITL_API_KEYS: KEY, REPLICATE_API_TOKEN: 'r8', REPLICATE_BASE_URL: fake.url, HITL_DATA_DIR: `/tmp/hb-${randomBytes(4).toString('hex')}`, LOG_LEVEL: 'info' });
  const client = createClient({ url: svc.url, key: KEY, tool }, 16);
  let id = 'x';
  if (which === 'service') { const a = await client.call('POST', '/hitl/run', { run_input: { prompt: 'p', user_id: 'b', agent_tool_config: tool }, hitl_config: { policy: 'require_human', allowed_steps: ['payload_review', 'response_review'] } }); id = String(a.body.run_id); }
  for (const path of process.env.ONLY ? [`/hitl/runs/${id}`] : [`/healthz`, `/hitl/runs/${id}`, `/hitl/runs/${id}?wait_for=awaiting_human`, `/hitl/runs/${id}/status`]) {
    await hammer(client, path, 3000);
    const c0 = svc.cpuMs(); const n = await hammer(client, path, 5000); const c1 = svc.cpuMs();
    console.log(which, path.replace(id, '{id}'), (n / 5).toFixed(0), 'req/s', ((c1 - c0) * 1000 / n).toFixed(0), 'µs CPU/req');
  }
  client.close(); await svc.stop();
}
await fake.close?.();
process.exit(0);
