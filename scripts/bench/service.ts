/**
 * Start a service under test as a child process (the real start command, or the do-nothing
 * server), find its port in its log, and read the CPU time of its whole process tree.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

export interface Service {
  url: string;
  pid: number;
  /** user + system CPU ms of the process and all its descendants (cluster workers). */
  cpuMs(): number;
  stop(): Promise<void>;
}

const TICK_MS = 10; // USER_HZ is 100 on Linux

function stat(pid: number): { comm: string; ppid: number; ticks: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    const end = text.lastIndexOf(')');
    const f = text.slice(end + 2).split(' ');
    return {
      comm: text.slice(text.indexOf('(') + 1, end),
      ppid: Number(f[1]),
      ticks: Number(f[11]) + Number(f[12]),
    };
  } catch {
    return null;
  }
}

/** User + system CPU ms of every process named `comm` alive now (e.g. all of Postgres's). */
export function processCpuMs(comm: string): number {
  let ticks = 0;
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const s = stat(pid);
    if (s?.comm === comm) ticks += s.ticks;
  }
  return ticks * TICK_MS;
}

/**
 * The machine's CPU time so far (`/proc/stat`, all cores, in ticks) and the part of it the
 * hypervisor gave to something else (steal): a window with much steal ran on a slower machine.
 */
export function machineTicks(stat = (): string => readFileSync('/proc/stat', 'utf8')): {
  total: number;
  steal: number;
} {
  try {
    const line = stat().split('\n')[0] ?? '';
    // cpu user nice system idle iowait irq softirq steal [guest guest_nice (already in user)]
    const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
    if (line.split(/\s+/)[0] !== 'cpu' || f.length < 8 || f.some((v) => !Number.isFinite(v)))
      return { total: Number.NaN, steal: Number.NaN };
    return { total: f.reduce((a, b) => a + b, 0), steal: f[7] as number };
  } catch {
    return { total: Number.NaN, steal: Number.NaN };
  }
}

/** The process and every descendant alive now. */
function tree(root: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const s = stat(pid);
    if (s) parent.set(pid, s.ppid);
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) {
    for (const [pid, ppid] of parent) if (ppid === out[i]) out.push(pid);
  }
  return out;
}

/** Spawn `args` in `cwd`; resolves once a stdout line reveals the listening URL. */
export async function startService(
  cwd: string,
  args: string[],
  env: Record<string, string>,
  readyMs = 60_000,
): Promise<Service> {
  const proc: ChildProcess = spawn(process.execPath, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail: string[] = [];
  const keep = (l: string) => {
    tail.push(l);
    if (tail.length > 30) tail.shift();
  };
  createInterface({ input: proc.stderr! }).on('line', keep);
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`not ready in ${readyMs} ms:\n${tail.join('\n')}`)),
      readyMs,
    );
    createInterface({ input: proc.stdout! }).on('line', (l) => {
      keep(l);
      const m = /listening on (http:\/\/[\w.:[\]]+)/.exec(l);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    void exited.then(() => reject(new Error(`exited before ready:\n${tail.join('\n')}`)));
  });
  // Cluster workers each print a line; give the others a moment to listen too.
  const pid = proc.pid as number;
  // Exited processes leave the tree: their CPU is kept so the window's difference stays right.
  const seen = new Map<number, number>();
  return {
    url,
    pid,
    cpuMs() {
      for (const p of tree(pid)) {
        const s = stat(p);
        // An embedded PostgreSQL is the service's child: counted as Postgres, not as the service.
        if (s && s.comm !== 'postgres') seen.set(p, s.ticks);
      }
      let ticks = 0;
      for (const t of seen.values()) ticks += t;
      return ticks * TICK_MS;
    },
    async stop() {
      proc.kill('SIGTERM');
      const forced = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(forced);
    },
  };
}
