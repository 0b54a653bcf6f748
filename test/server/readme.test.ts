import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../persistence/embedded-postgres.ts';

/**
 * The README's first run, for real: `npm start` on a fresh data dir with the embedded Postgres,
 * then every curl command of the README, each answer compared with the JSON printed under it.
 */

const ROOT = join(import.meta.dirname, '..', '..');
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const ISO = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/g;
/** The key is given to the shell by the test (the README reads it from `data/api-key`). */
const SET_KEY = /^\s*(export\s+)?HITL_KEY=/;
const VARS = '__readme_vars__';

/** Ids, times, the key's id and durations vary from run to run; the port is the test's. */
function mask(value: unknown, port: number, key = ''): unknown {
  if (typeof value === 'string') {
    return value
      .replaceAll(`127.0.0.1:${port}`, '127.0.0.1:8080')
      .replace(UUID, '<id>')
      .replace(ISO, '<time>')
      .replace(/service:[0-9a-f]{8}/g, 'service:<key>');
  }
  if (typeof value === 'number' && key.endsWith('_ms')) return '<ms>';
  if (Array.isArray(value)) return value.map((v) => mask(v, port));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mask(v, port, k)]));
  }
  return value;
}

interface Block {
  lang: string;
  body: string;
}

function blocks(markdown: string): Block[] {
  return [...markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({
    lang: m[1] ?? '',
    body: m[2] ?? '',
  }));
}

/** The curl steps of the first-run section: each `sh` block with curl and the `json` block after it. */
function curlSteps(readme: string): Array<{ script: string; expected: unknown }> {
  const start = readme.indexOf('<!-- first-run:start -->');
  const end = readme.indexOf('<!-- first-run:end -->');
  const list = blocks(readme.slice(start, end));
  const steps: Array<{ script: string; expected: unknown }> = [];
  list.forEach((b, i) => {
    const next = list[i + 1];
    if (b.lang === 'sh' && b.body.includes('curl') && next?.lang === 'json') {
      steps.push({ script: b.body, expected: JSON.parse(next.body) });
    }
  });
  return steps;
}

function hasCurl(): boolean {
  try {
    execFileSync('curl', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function hasJq(): boolean {
  try {
    execFileSync('jq', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Environment for the child: ours, minus everything that would configure the service. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(HITL_|REPLICATE_|WEBSOCKET_|DATABASE_URL|REDIS_URL|PORT$|HOST$|LOG_LEVEL)/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

const describeIfCurl = hasCurl() && hasJq() ? describe : describe.skip;

describeIfCurl('the README', () => {
  let dir: string;
  let port: number;
  let child: ChildProcess;
  let output = '';
  let exited: Promise<number | null>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hitl-readme-'));
    // As root the embedded server runs as `postgres`, which must be able to reach the data dir.
    await chmod(dir, 0o711);
    port = await freePort();
    // The start script itself (checked below), run without npm in between so that SIGTERM reaches
    // the service (tsx relays it) and the exit is the end of its graceful shutdown.
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
      scripts: { start: string };
    };
    const [bin, ...args] = pkg.scripts.start.split(' ');
    child = spawn(join(ROOT, 'node_modules', '.bin', bin ?? 'tsx'), args, {
      cwd: ROOT,
      env: cleanEnv({ HITL_DATA_DIR: join(dir, 'data'), PORT: String(port), LOG_LEVEL: 'info' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`npm start did not listen in time:\n${output}`)),
        110_000,
      );
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('hitl-runs listening on')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      void exited.then((code) => reject(new Error(`npm start exited with ${String(code)}:\n${output}`)));
    });
  }, 120_000);

  /** SIGTERM and wait; the exit code, or 'timeout'. */
  async function stop(): Promise<number | null | 'timeout'> {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill('SIGTERM');
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 25_000));
    const code = await Promise.race([exited, timeout]);
    if (code === 'timeout') child.kill('SIGKILL');
    return code;
  }

  afterAll(async () => {
    if (child?.pid) await stop();
    if (dir) await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  }, 30_000);

  it('is started by `npm start`, which runs tsx server/main.ts', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
      scripts: { start: string };
    };
    expect(pkg.scripts.start).toBe('tsx server/main.ts');
  });

  it('starts with exactly two set-up commands near the top', async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    const first = blocks(readme)[0];
    expect(first?.lang).toBe('sh');
    expect(first?.body.trim().split('\n')).toEqual(['npm install && npm start', 'npm test']);
    expect(readme.indexOf('```sh')).toBeLessThan(600);
  });

  it('made a key in HITL_DATA_DIR/api-key (mode 0600), printed it once on stderr, and listens on loopback', async () => {
    const key = (await readFile(join(dir, 'data', 'api-key'), 'utf8')).trim();
    expect(key.length).toBeGreaterThan(20);
    expect((await stat(join(dir, 'data', 'api-key'))).mode & 0o777).toBe(0o600);
    expect(output.split(key).length - 1).toBe(1);
    expect(output).toContain(`http://127.0.0.1:${port}`);
  });

  it('answers every curl command of the first run with the JSON shown under it, capturing ids with jq', async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    const steps = curlSteps(readme);
    expect(steps.length).toBe(4);
    // The ids come from the answers themselves (`jq -r`), never typed in.
    expect(steps[0]?.script).toContain('RUN=$(jq -r .run_id run.json)');
    expect(steps[1]?.script).toContain('APPROVAL=$(jq -r .approval.approval_id view.json)');
    const vars: Record<string, string> = {
      HITL_KEY: (await readFile(join(dir, 'data', 'api-key'), 'utf8')).trim(),
      RUN: '',
      APPROVAL: '',
    };
    const work = await mkdtemp(join(tmpdir(), 'hitl-readme-shell-'));
    try {
      for (const step of steps) {
        const script = step.script
          .split('\n')
          .filter((line) => !SET_KEY.test(line))
          .join('\n')
          .replaceAll('127.0.0.1:8080', `127.0.0.1:${port}`);
        // Each block runs as a reader would paste it; the variables it sets carry over to the next.
        const stdout = execFileSync(
          'bash',
          ['-ec', `${script}\nprintf '\\n${VARS} %s %s\\n' "$RUN" "$APPROVAL"`],
          { cwd: work, env: { ...process.env, ...vars }, encoding: 'utf8' },
        );
        const [answer = '', tail = ''] = stdout.split(`\n${VARS} `);
        const [run = '', approval = ''] = tail.trim().split(' ');
        vars.RUN = run;
        vars.APPROVAL = approval;
        const actual = JSON.parse(answer) as Record<string, unknown>;
        expect(mask(actual, port), script).toEqual(mask(step.expected, port));
      }
      expect(vars.RUN).toMatch(new RegExp(`^${UUID.source}$`));
      expect(vars.APPROVAL).toMatch(new RegExp(`^${UUID.source}$`));
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }, 60_000);

  it('stops gracefully on SIGTERM: exit code 0 once the embedded Postgres is stopped', async () => {
    expect(await stop()).toBe(0);
    expect(output).toContain('"msg":"stopped"');
  }, 30_000);
});
