import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { createEchoProvider } from '../../actors/providers/echo.ts';
import { createProviderRegistry } from '../../actors/providers/registry.ts';
import { createReplicateProvider } from '../../actors/providers/replicate.ts';
import type { RunHost } from '../../actors/run-host.ts';
import { createPostgresStore } from '../../persistence/postgres.ts';
import type { EventRow } from '../../persistence/types.ts';
import { ChildError, type HostChild } from './child.ts';
import type { TestDatabase } from './db.ts';
import type { FakeReplicate } from './fake-replicate.ts';

/** Helpers shared by the durability tests (test/actors/*): runs, logs, verification. */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A Replicate model whose demo input is its schema: nothing is fetched to describe it. */
export const PAINTER = {
  name: 'acme/painter',
  latest_version: 'ver-painter-1',
  example_input: { prompt: 'a lighthouse at dusk', num_outputs: 1 },
  cost_per_run: 0.01,
};

/** A unique prompt marker, so the fake's creates can be attributed to one run. */
export const marker = (label: string) => `${label} #${randomUUID().slice(0, 8)}`;

/** `run_input` for a Replicate run whose prompt carries `mark`. */
export function replicateInput(mark: string, prompt = 'a red fox in the snow'): Record<string, unknown> {
  return { prompt: `${prompt} (${mark})`, agent_tool_config: { 'replicate-agent-tool': { data: PAINTER } } };
}

/** The creates the fake received whose input carries `mark`. */
export function createsFor(fake: FakeReplicate, mark: string) {
  return fake.received.creates.filter((c) => JSON.stringify(c.input).includes(mark));
}

/** The open approval of a view (throws when there is none). */
export function approvalOf(view: Record<string, unknown>): { approval_id: string; checkpoint_type: string } {
  const a = view.approval as { approval_id?: unknown; checkpoint_type?: unknown } | null;
  if (!a || typeof a.approval_id !== 'string' || typeof a.checkpoint_type !== 'string') {
    throw new Error(`no open approval (status ${String(view.status)}, step ${String(view.current_step)})`);
  }
  return { approval_id: a.approval_id, checkpoint_type: a.checkpoint_type };
}

/** Retry `fn` until it returns a value (not undefined) or `timeoutMs` passes. */
export async function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 10_000,
  everyMs = 25,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
}

/** Poll a child's view of the run until `pred` holds. */
export function waitForChildView(
  child: HostChild,
  runId: string,
  pred: (view: Record<string, unknown>) => boolean,
  timeoutMs = 10_000,
): Promise<Record<string, unknown>> {
  let last: Record<string, unknown> = {};
  return eventually(
    `${child.node}'s view of ${runId}`,
    async () => {
      last = await child.view(runId);
      return pred(last) ? last : undefined;
    },
    timeoutMs,
  ).catch((err: unknown) => {
    const where = `last: status=${String(last.status)} step=${String(last.current_step)}`;
    throw new Error(`${err instanceof Error ? err.message : String(err)} (${where})\n${child.stderr()}`);
  });
}

/** Every row of a run's log, from Postgres. */
export async function eventsOf(db: TestDatabase, runId: string): Promise<EventRow[]> {
  const store = createPostgresStore(db.sql);
  const rows: EventRow[] = [];
  for (let after = 0; ; ) {
    const page = await store.listEvents(runId, after, 500);
    rows.push(...page);
    if (page.length < 500) return rows;
    after = page[page.length - 1]?.seq ?? after;
  }
}

/**
 * The run's log is gap-free (seq 1..n, n = the run's seq) and replaying it reproduces the stored
 * snapshot. Returns the rows.
 */
export async function expectSound(db: TestDatabase, host: RunHost, runId: string): Promise<EventRow[]> {
  const seqOf = async () =>
    (await db.sql<{ seq: number }[]>`select seq from runs where run_id = ${runId}`)[0]?.seq;
  // Audit rows (a cancel's answer) may be appended to a finished run meanwhile: read a still log.
  for (let i = 0; ; i++) {
    const before = await seqOf();
    const rows = await eventsOf(db, runId);
    const verified = await host.verify(runId);
    if (i < 5 && (before !== rows.length || verified.seq !== rows.length)) continue;
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_, n) => n + 1));
    expect(rows.length).toBe(before);
    expect(verified).toEqual({ run_id: runId, seq: rows.length, consistent: true });
    return rows;
  }
}

/** Types of the rows, in order. */
export const typesOf = (rows: EventRow[]) => rows.map((r) => r.type);

/** The rows that close (decide or expire) `approvalId`. */
export const closingRows = (rows: EventRow[], approvalId: string) =>
  rows.filter(
    (r) =>
      (r.type.startsWith('review.') || r.type === 'approval.expired') &&
      (r.payload as { approval_id?: unknown }).approval_id === approvalId,
  );

/** `npm run verify -- <ids…>` against the database: exit code and one parsed line per run. */
export function runVerifyScript(
  url: string,
  runIds: string[],
): Promise<{
  code: number;
  results: Array<{ run_id: string; seq: number; consistent: boolean }>;
  stderr: string;
}> {
  return new Promise((resolve, reject) => {
    execFile(
      'npm',
      ['run', '--silent', 'verify', '--', ...runIds],
      { cwd: ROOT, env: { ...process.env, DATABASE_URL: url }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        if (code === -1) return reject(err);
        const results = stdout
          .split('\n')
          .filter((l) => l.trim().startsWith('{'))
          .map((l) => JSON.parse(l) as { run_id: string; seq: number; consistent: boolean });
        resolve({ code, results, stderr });
      },
    );
  });
}

/** Providers (echo + Replicate at `baseUrl`) whose Replicate client waits `ms` before each create. */
export function slowCreates(baseUrl: string, ms: number) {
  const fetchSlowly = async (input: string | URL | Request, init?: RequestInit) => {
    if ((init?.method ?? 'GET').toUpperCase() === 'POST') await new Promise((r) => setTimeout(r, ms));
    return fetch(input, init);
  };
  return createProviderRegistry([
    createEchoProvider(),
    createReplicateProvider({ token: 'test-token', baseUrl, fetch: fetchSlowly }),
  ]);
}

/**
 * Create a run in a child; a child that kills itself right after the creation commit (a fault
 * point) may die before answering, so the run is then found by its prompt.
 */
export async function createInChild(
  child: HostChild,
  db: TestDatabase,
  config: Record<string, unknown>,
  input: Record<string, unknown>,
): Promise<string> {
  try {
    return await child.create(config, input);
  } catch (err) {
    if (!(err instanceof ChildError && err.code === 'exited')) throw err;
    const prompt = String(input.prompt);
    const found = await eventually('the run to be stored', async () => {
      const [row] = await db.sql<{ run_id: string }[]>`
        select run_id from runs where view->'original_input'->>'prompt' = ${prompt}`;
      return row?.run_id;
    });
    return found;
  }
}
