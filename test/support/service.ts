import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

/** Our environment minus everything that would configure the service, plus `extra`. */
export function serviceEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(HITL_|REPLICATE_|WEBSOCKET_|DATABASE_URL|REDIS_URL|PORT$|HOST$|LOG_LEVEL)/.test(k)) continue;
    if (k.startsWith('npm_') || k.startsWith('VITEST') || k === 'NODE_ENV') continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/** How a service process ended. */
export interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the start script (`tsx server/main.ts`, no npm around it, so the exit code and the
 * output are the service's own) in the checkout `root` until it exits on its own.
 */
export function runUntilExit(root: string, env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<Ended> {
  const child = spawn(join(root, 'node_modules', '.bin', 'tsx'), ['server/main.ts'], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return collect(child, timeoutMs);
}

function collect(child: ChildProcess, timeoutMs: number): Promise<Ended> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`still running after ${timeoutMs} ms:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** What a start-up failure must look like: exit 1, one message on stderr, no stack, no crash. */
export function startupFailure(ended: Ended): { code: number | null; message: string; noise: string[] } {
  const lines = ended.stderr.trim().split('\n');
  const noise = lines.filter((l) => /^\s+at |Unhandled 'error' event|node:internal|^Node\.js v/.test(l));
  return { code: ended.code, message: ended.stderr.trim(), noise };
}
