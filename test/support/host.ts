import { randomBytes, randomUUID } from 'node:crypto';
import { createApprovalService } from '../../actors/approvals.ts';
import { HitlError } from '../../actors/errors.ts';
import { createEchoProvider } from '../../actors/providers/echo.ts';
import { createProviderRegistry } from '../../actors/providers/registry.ts';
import { createReplicateProvider } from '../../actors/providers/replicate.ts';
import type { Provider } from '../../actors/providers/types.ts';
import { createRunHost, type RunHost, type RunHostOptions } from '../../actors/run-host.ts';
import { effectiveConfig, type HitlConfigInput } from '../../machines/schemas.ts';
import { createMemoryBus, createMemoryCache } from '../../persistence/memory.ts';
import { createPostgresStore } from '../../persistence/postgres.ts';
import type { Bus, SnapshotCache } from '../../persistence/types.ts';
import type { TestDatabase } from './db.ts';

/** A run host on a test database: real Postgres store, memory or given cache/bus, echo (+ fake Replicate). */
export function testHost(
  db: TestDatabase,
  opts: {
    cache?: SnapshotCache;
    bus?: Bus;
    replicateUrl?: string;
    node?: string;
    extra?: Partial<RunHostOptions>;
  } = {},
) {
  const providers: Provider[] = [createEchoProvider()];
  if (opts.replicateUrl)
    providers.push(createReplicateProvider({ token: 'test-token', baseUrl: opts.replicateUrl }));
  const host = createRunHost({
    store: createPostgresStore(db.sql),
    cache: opts.cache ?? createMemoryCache({ maxEntries: 10_000 }),
    bus: opts.bus ?? createMemoryBus(),
    providers: createProviderRegistry(providers),
    node: opts.node ?? `test-${randomUUID().slice(0, 8)}`,
    leaseMs: 2000,
    timers: { tickMs: 30, recoveryMs: 200, pollMs: 30 },
    ...opts.extra,
  });
  const approvals = createApprovalService(host);
  return { host, approvals };
}

/** Create an echo run (or a Replicate one when `model` is given) for user u1. */
export function createRun(host: RunHost, config: HitlConfigInput = {}, input: Record<string, unknown> = {}) {
  return host.createRun({
    run_input: { prompt: 'a red fox in the snow', agent_tool_config: { 'echo-agent-tool': {} }, ...input },
    config: effectiveConfig(config, 'u1'),
    user_id: 'u1',
    session_id: 's1',
    created_by: 'service:test0000',
  });
}

/** Poll the run until `pred` holds for its view (bounded). */
export async function waitForView(
  host: RunHost,
  runId: string,
  pred: (view: Record<string, unknown>) => boolean,
  timeoutMs = 10_000,
): Promise<Record<string, unknown>> {
  const end = Date.now() + timeoutMs;
  let last: Record<string, unknown> = {};
  while (Date.now() < end) {
    // Right after an outage a read may still answer `unavailable` (the pool is reconnecting):
    // a typed "not yet", like an older state.
    const run = await host.read(runId).catch((err: unknown) => {
      if (err instanceof HitlError && err.code === 'unavailable') return null;
      throw err;
    });
    if (run) {
      last = host.view(run);
      if (pred(last)) return last;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const error = last.error ? ` error=${JSON.stringify(last.error)}` : '';
  throw new Error(
    `timed out; last view: status=${String(last.status)} step=${String(last.current_step)}${error}`,
  );
}

export const isStatus = (s: string) => (v: Record<string, unknown>) => v.status === s;

/** Approve the run's next `times` checkpoints as user u1, then wait until it completed. */
export async function approveToEnd(host: RunHost, runId: string, times: number) {
  for (let i = 0; i < times; i++) {
    const waiting = await waitForView(host, runId, isStatus('awaiting_human'));
    const approval = (waiting.approval as { approval_id: string }).approval_id;
    await host.decide(runId, { approval_id: approval, action: 'approve' }, 'user:u1');
  }
  return waitForView(host, runId, isStatus('completed'));
}

/** A run with a random 300 kB prompt that stops at payload and response review; with its prompt. */
export async function createLargeRun(host: RunHost) {
  const prompt = randomBytes(225_000).toString('base64');
  const run = await createRun(
    host,
    { policy: 'require_human', allowed_steps: ['payload_review', 'response_review'] },
    { prompt },
  );
  return { prompt, id: run.snapshot.context.run_id };
}
