import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

/** The real server (`npm start`'s entry) against hostile input: it answers, and it lives. */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const KEY = 'process-test-service-key-0123456789';

interface Started {
  proc: ChildProcess;
  url: string;
  lines: string[];
}

async function startServer(env: Record<string, string>): Promise<Started> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  createInterface({ input: proc.stderr! }).on('line', (l) => lines.push(l));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not listening:\n${lines.join('\n')}`)), 60_000);
    createInterface({ input: proc.stdout! }).on('line', (l) => {
      lines.push(l);
      const m = /listening on (http:\/\/[^"\s]+)/.exec(l);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${String(code)}:\n${lines.join('\n')}`));
    });
  });
  return { proc, url, lines };
}

function nest(n: number): string {
  let s = '1';
  for (let i = 0; i < n; i++) s = `{"a":${s}}`;
  return s;
}

let db: TestDatabase;
let server: Started;
const call = (path: string, init: { method?: string; body?: string } = {}) =>
  fetch(`${server.url}${path}`, {
    method: init.method ?? (init.body ? 'POST' : 'GET'),
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    ...(init.body ? { body: init.body } : {}),
  });

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startServer({
    DATABASE_URL: db.url,
    HITL_API_KEYS: KEY,
    HITL_DATA_DIR: await mkdtemp(join(tmpdir(), 'hitl-proc-')),
  });
}, 90_000);
afterAll(async () => {
  if (server?.proc.exitCode === null) {
    const gone = new Promise((r) => server.proc.once('exit', r));
    server.proc.kill('SIGTERM');
    await gone;
  }
  await db?.drop();
}, 60_000);

describe('the server process', () => {
  it('fans out through Postgres when it has an external database and no Redis', () => {
    expect(server.lines.some((l) => l.includes('"fan_out":"postgres"'))).toBe(true);
  });

  it('answers a 1,500-deep body and 1,500-deep decision edits with 422, stays up and ready', async () => {
    const deep = `{"run_input":{"prompt":"p","agent_tool_config":{"echo-agent-tool":{}},"extra":${nest(1500)}}}`;
    const refused = await call('/hitl/run', { body: deep });
    expect(refused.status).toBe(422);
    const created = await call('/hitl/run', {
      body: JSON.stringify({
        run_input: { prompt: 'p', user_id: 'u1', agent_tool_config: { 'echo-agent-tool': {} } },
        hitl_config: { policy: 'require_human', allowed_steps: ['payload_review'] },
      }),
    });
    expect(created.status).toBe(201);
    const id = String(((await created.json()) as { run_id: string }).run_id);
    const view = (await (await call(`/hitl/runs/${id}?wait_for=awaiting_human&timeout=20`)).json()) as {
      approval: { approval_id: string };
    };
    const edits = await call(`/hitl/run/${id}/approve`, {
      body: `{"approval_id":"${view.approval.approval_id}","action":"edit","edits":{"payload":${nest(1500)}}}`,
    });
    expect(edits.status).toBe(422);
    const decided = await call(`/hitl/run/${id}/approve`, {
      body: JSON.stringify({ approval_id: view.approval.approval_id, action: 'approve' }),
    });
    expect(decided.status).toBe(200);
    const done = await call(`/hitl/runs/${id}?wait_for=terminal&timeout=20`);
    expect(((await done.json()) as { status: string }).status).toBe('completed');
    // The bus, timers and worker handled all of the above in the background: still alive, ready.
    expect(server.proc.exitCode).toBeNull();
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
  });

  it('refuses to start with a service key shorter than 16 characters, naming the variable (not the key)', async () => {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      cwd: ROOT,
      env: { ...process.env, PORT: '0', DATABASE_URL: db.url, HITL_API_KEYS: `${KEY},short-key` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    proc.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const code = await new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
    expect(code).toBe(1);
    expect(err).toContain('HITL_API_KEYS: every key must be at least 16 characters');
    expect(err).not.toContain('short-key');
  });
});
