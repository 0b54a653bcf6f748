import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { eventually } from '../support/durability.ts';
import { describeWithRedis } from '../support/redis.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const KEY = 'workers-test-key-0123456789';

describeWithRedis('HITL_WORKERS=2', (redis) => {
  let db: TestDatabase;
  let child: ChildProcess | null = null;
  const lines: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase({ migrated: false });
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await db?.drop();
  });

  it('serves one port from two worker processes, each a node of its own, and stops on SIGTERM', async () => {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        PORT: '0',
        HITL_WORKERS: '2',
        DATABASE_URL: db.url,
        REDIS_URL: redis.url,
        HITL_API_KEYS: KEY,
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    createInterface({ input: proc.stdout! }).on('line', (l) => lines.push(l));
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    const listening = await eventually(
      'two workers to listen',
      async () => {
        const found = lines
          .filter((l) => l.includes('listening on'))
          .map((l) => JSON.parse(l) as { url: string; node: string });
        return found.length >= 2 ? found : undefined;
      },
      60_000,
    );
    const [a, b] = listening;
    expect(a?.url).toBe(b?.url);
    expect(a?.node).not.toBe(b?.node);

    const res = await fetch(`${a?.url}/hitl/run`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        run_input: { prompt: 'hello', agent_tool_config: { 'echo-agent-tool': {} } },
        hitl_config: { policy: 'auto' },
      }),
    });
    expect(res.status).toBe(201);
    const { run_id } = (await res.json()) as { run_id: string };
    const done = await fetch(`${a?.url}/hitl/runs/${run_id}?wait_for=terminal&timeout=20`, {
      headers: { authorization: `Bearer ${KEY}` },
    });
    expect(((await done.json()) as { status: string }).status).toBe('completed');

    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    child = null;
  }, 90_000);
});
