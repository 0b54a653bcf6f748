import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ENTRY = fileURLToPath(new URL('./host-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Environment of a host child (see host-child.ts); numbers may be given as numbers. */
export interface HostChildEnv {
  DATABASE_URL: string;
  NODE_ID?: string;
  REDIS_URL?: string;
  REDIS_PREFIX?: string;
  REPLICATE_BASE_URL?: string;
  HITL_FAULT_POINT?:
    | 'after_commit'
    | 'after_submit_request'
    | 'after_claim'
    | 'batch_in_flight'
    | 'before_cancel_request';
  /** The Replicate provider's capabilities call fails every time, after this many ms. */
  FAIL_CAPABILITIES_MS?: number;
  LEASE_MS?: number;
  MAX_LIVE_RUNS?: number;
  TICK_MS?: number;
  RECOVERY_MS?: number;
  POLL_MS?: number;
}

/** A `{ ok: false }` answer of the child, with the runtime's error code. */
export class ChildError extends Error {
  override readonly name = 'ChildError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type Answer = Record<string, unknown>;

/** A run host in a child process, talked to over JSON lines. */
export interface HostChild {
  node: string;
  pid: number;
  /** Resolves with the exit signal (or code) once the process is gone. */
  exited: Promise<string>;
  send(op: string, fields?: Record<string, unknown>): Promise<Answer>;
  create(config: Record<string, unknown>, input?: Record<string, unknown>): Promise<string>;
  decide(runId: string, approvalId: string, action: string, edits?: Record<string, unknown>): Promise<Answer>;
  view(runId: string): Promise<Record<string, unknown>>;
  stats(): Promise<{ rss: number; heap_used: number; live: number }>;
  /** SIGKILL, then wait until it is gone. */
  kill(): Promise<void>;
  /** The last lines the child wrote to stderr (for failure messages). */
  stderr(): string;
}

const children = new Set<ChildProcess>();

// Belt and braces: a test process that exits for any reason takes its children along.
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** Spawn `node --import tsx test/support/host-child.ts` and wait until its host is started. */
export async function spawnHostChild(env: HostChildEnv, readyMs = 30_000): Promise<HostChild> {
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) childEnv[k] = String(v);
  // A small young generation (the setting the README recommends for many waiting runs) keeps
  // V8's collection slack out of the RSS the scale test measures.
  const proc = spawn(process.execPath, ['--max-semi-space-size=2', '--import', 'tsx', ENTRY], {
    cwd: ROOT,
    env: { ...process.env, ...childEnv },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.add(proc);
  const errLines: string[] = [];
  createInterface({ input: proc.stderr! }).on('line', (l) => {
    errLines.push(l);
    if (errLines.length > 40) errLines.shift();
  });
  const exited = new Promise<string>((resolve) => {
    proc.once('exit', (code, signal) => {
      children.delete(proc);
      resolve(signal ?? `code ${String(code)}`);
    });
  });
  const pending = new Map<number, { resolve: (a: Answer) => void; reject: (e: Error) => void }>();
  let ready: ((a: Answer) => void) | null = null;
  const readyAnswer = new Promise<Answer>((resolve) => {
    ready = resolve;
  });
  createInterface({ input: proc.stdout! }).on('line', (l) => {
    let msg: Answer;
    try {
      msg = JSON.parse(l) as Answer;
    } catch {
      return;
    }
    if (msg.ready === true) return ready?.(msg);
    const waiter = typeof msg.id === 'number' ? pending.get(msg.id) : undefined;
    if (!waiter || typeof msg.id !== 'number') return;
    pending.delete(msg.id);
    if (msg.ok === true) return waiter.resolve(msg);
    const e = (msg.error ?? {}) as { code?: string; message?: string };
    waiter.reject(new ChildError(e.code ?? 'internal', e.message ?? 'child error'));
  });
  void exited.then((how) => {
    for (const w of pending.values()) w.reject(new ChildError('exited', `host child exited (${how})`));
    pending.clear();
  });
  const stderr = () => errLines.join('\n');
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(
      () => reject(new Error(`host child not ready after ${readyMs} ms:\n${stderr()}`)),
      readyMs,
    ).unref(),
  );
  const early = exited.then((how) => {
    throw new Error(`host child exited before ready (${how}):\n${stderr()}`);
  });
  const hello = await Promise.race([readyAnswer, timeout, early]).catch((err: unknown) => {
    proc.kill('SIGKILL');
    throw err;
  });
  let nextId = 1;

  const send = (op: string, fields: Record<string, unknown> = {}): Promise<Answer> => {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      return Promise.reject(new ChildError('exited', 'host child is not running'));
    }
    const id = nextId++;
    return new Promise<Answer>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      proc.stdin!.write(`${JSON.stringify({ ...fields, id, op })}\n`);
    });
  };

  return {
    node: String(hello.node),
    pid: proc.pid ?? 0,
    exited,
    send,
    async create(config, input = {}) {
      return String((await send('create', { config, input })).run_id);
    },
    decide: (runId, approvalId, action, edits) =>
      send('decide', { run_id: runId, approval_id: approvalId, action, ...(edits ? { edits } : {}) }),
    async view(runId) {
      return (await send('view', { run_id: runId })).view as Record<string, unknown>;
    },
    async stats() {
      const a = await send('stats');
      return { rss: Number(a.rss), heap_used: Number(a.heap_used), live: Number(a.live) };
    },
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
    stderr,
  };
}

/** SIGKILL every child still running (for `afterAll`). */
export async function killAllChildren(): Promise<void> {
  const gone = [...children].map((c) => new Promise<void>((resolve) => c.once('exit', () => resolve())));
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(gone);
}
