import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { eventually } from '../support/durability.ts';
import { describeWithRedis } from '../support/redis.ts';
import { connect, type Frame } from './ws-harness.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const KEY = 'workers-test-key-0123456789';

/** Services a failed test left running: killed after the file. */
const running = new Set<ChildProcess>();
afterAll(() => {
  for (const child of running) child.kill('SIGKILL');
});

/** A database of its own for the suite it is called in (not migrated: the workers do it). */
function useDatabase(): () => TestDatabase {
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = await createTestDatabase({ migrated: false });
  });
  afterAll(async () => {
    for (const child of running) child.kill('SIGKILL');
    await db?.drop();
  });
  return () => {
    if (!db) throw new Error('no database yet');
    return db;
  };
}

/** `server/main.ts` with `HITL_WORKERS=2` on `db`; resolves once both workers listen. */
async function startWorkers(db: TestDatabase, redisUrl: string | null, lines: string[]) {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: '0',
    HITL_WORKERS: '2',
    DATABASE_URL: db.url,
    HITL_API_KEYS: KEY,
    LOG_LEVEL: 'info',
  };
  if (redisUrl) env.REDIS_URL = redisUrl;
  else delete env.REDIS_URL;
  const proc = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(proc);
  createInterface({ input: proc.stdout! }).on('line', (l) => lines.push(l));
  createInterface({ input: proc.stderr! }).on('line', (l) => lines.push(l));
  const exited = new Promise<number | null>((r) =>
    proc.once('exit', (code) => {
      running.delete(proc);
      r(code);
    }),
  );
  const listening = await eventually(
    'two workers to listen',
    async () => {
      const found = lines
        .filter((l) => l.startsWith('{') && l.includes('listening on'))
        .map((l) => JSON.parse(l) as { url: string; node: string });
      return found.length >= 2 ? found : undefined;
    },
    60_000,
  );
  return { proc, exited, listening };
}

async function createRun(url: string, body: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${url}/hitl/run`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      run_input: { prompt: 'hello', agent_tool_config: { 'echo-agent-tool': {} } },
      ...body,
    }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { run_id: string }).run_id;
}

describeWithRedis('HITL_WORKERS=2', (redis) => {
  const db = useDatabase();
  const lines: string[] = [];

  it('serves one port from two worker processes, each a node of its own, and stops on SIGTERM', async () => {
    const { proc, exited, listening } = await startWorkers(db(), redis.url, lines);
    const [a, b] = listening;
    expect(a?.url).toBe(b?.url);
    expect(a?.node).not.toBe(b?.node);

    const run_id = await createRun(a?.url ?? '', { hitl_config: { policy: 'auto' } });
    const done = await fetch(`${a?.url}/hitl/runs/${run_id}?wait_for=terminal&timeout=20`, {
      headers: { authorization: `Bearer ${KEY}` },
    });
    expect(((await done.json()) as { status: string }).status).toBe('completed');

    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 90_000);
});

describe('HITL_WORKERS=2 without Redis (external Postgres)', () => {
  const db = useDatabase();
  const lines: string[] = [];

  it('starts, and the workers fan out to each other through Postgres LISTEN/NOTIFY', async () => {
    const { proc, exited, listening } = await startWorkers(db(), null, lines);
    const url = listening[0]?.url ?? '';
    // Each socket is a connection of its own: the primary hands them to the workers in turn, so
    // both workers hold some. A worker only pushes what it hears: its own commits, and the other
    // worker's through the fan-out.
    const sockets = await Promise.all(
      Array.from({ length: 4 }, () => connect(url.replace('http', 'ws') + '/ws', KEY)),
    );
    for (const s of sockets) await s.request('subscribe', { session_id: 'workers-s1' });
    const runId = await createRun(url, { session_id: 'workers-s1', hitl_config: { policy: 'auto' } });
    const completed = (f: Frame) =>
      f.type === 'hitl_status_update' && f.data['run_id'] === runId && f.data['status'] === 'completed';
    // Without a fan-out between the workers, the sockets on the other worker would hear nothing.
    await Promise.all(sockets.map((s) => s.next(completed, 20_000)));
    for (const s of sockets) s.close();

    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(lines.some((l) => l.includes('needs REDIS_URL'))).toBe(false);
  }, 90_000);
});
