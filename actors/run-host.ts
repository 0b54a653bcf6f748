import type { RunCreated, RunEvent } from '../machines/run-events.ts';
import { persisted, replay } from '../machines/run-replay.ts';
import { upgradedSnapshot } from '../machines/run-upgrade.ts';
import { statusView } from '../machines/run-view.ts';
import type { HitlConfig } from '../machines/schemas.ts';
import { isRecord } from '../machines/values.ts';
import type { RunStatusView } from '../machines/view-schemas.ts';
import type { EventRow, IdempotencyRecord, RunFilter } from '../persistence/types.ts';
import { canonical } from './canonical.ts';
import { HitlError } from './errors.ts';
import { redact } from './redact.ts';
import { createCancelWork } from './run-cancel.ts';
import { createRunCore, type LoadedRun, type RunCore, type RunHostDeps } from './run-core.ts';
import { type DecisionRequest, decisionEvent } from './run-decide.ts';
import { createRunTimers, type TimerOptions } from './run-timers.ts';
import { createRunWorker } from './run-worker.ts';

export interface CreateRunRequest {
  /** The validated RunInput (unknown fields kept). */
  run_input: Record<string, unknown>;
  config: HitlConfig;
  user_id: string | null;
  session_id: string | null;
  /** `service:<key id>` of the caller. */
  created_by: string;
}

export interface RunHostOptions extends RunHostDeps {
  timers?: TimerOptions;
  /** When set, predictions report completion to this URL (webhooks) instead of relying on polling. */
  webhookUrl?: (runId: string) => string | undefined;
}

/** Each host's core, for the other runtime parts of `actors/` (approvals) and tests: never on
 *  the host's public object. */
const cores = new WeakMap<object, RunCore>();
export function coreOf(host: RunHost): RunCore {
  const core = cores.get(host);
  if (!core) throw new Error('not a run host');
  return core;
}

/** The event of each control request. */
const CONTROL = { pause: 'run.paused', cancel: 'run.cancelled' } as const;

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** The durable run host: create runs, apply decisions and controls, read, verify, recover. */
export function createRunHost(opts: RunHostOptions) {
  const core = createRunCore(opts);
  const cancels = createCancelWork(core);
  const worker = createRunWorker(core, {
    ...(opts.webhookUrl ? { webhookUrl: opts.webhookUrl } : {}),
    onOrphan: async (runId, predictionId) => {
      if (await cancels.orphan(runId, predictionId)) timers.nudge();
    },
  });
  const timers = createRunTimers(core, worker, cancels, opts.timers);
  core.onCommit((runId, next, cause, work) => {
    worker.kick(runId, next, cause);
    // A cancel just written is due now: claim it here rather than at the next tick.
    if (work.length > 0) timers.nudge();
  });

  async function createRun(req: CreateRunRequest): Promise<LoadedRun> {
    const toolConfig = req.run_input.agent_tool_config;
    // A record at the edge (RunInput's schema).
    const resolved = opts.providers.resolve(isRecord(toolConfig) ? toolConfig : undefined);
    if (!resolved.provider.configured()) {
      throw new HitlError(
        'provider_not_configured',
        `Provider ${resolved.provider.name} is not configured on this server`,
      );
    }
    const input = req.run_input;
    const documentUrl =
      typeof input.document_url === 'string' && input.document_url ? [input.document_url] : [];
    const created: RunCreated = {
      type: 'run.created',
      ...core.stamp(req.created_by),
      run_id: core.newId(),
      config: req.config,
      user_id: req.user_id,
      session_id: req.session_id,
      provider: resolved.provider.name,
      tool_key: resolved.tool_key,
      original_input: redact(input),
      request: {
        prompt: typeof input.prompt === 'string' ? input.prompt : '',
        attachments: [...documentUrl, ...strings(input.attachments)],
        model_config: redact(resolved.model_config),
      },
    };
    return core.create(created, req.created_by);
  }

  async function mustRead(runId: string): Promise<LoadedRun> {
    const run = await core.read(runId);
    if (!run) throw new HitlError('run_not_found', `Run ${runId} not found`);
    return run;
  }

  /** Apply a decision on the run's open approval (HTTP, WebSocket and timeouts all come here). */
  function decide(runId: string, req: DecisionRequest, actor: string): Promise<LoadedRun> {
    return core.apply(runId, (run, stamp) => decisionEvent(run, req, stamp(actor), worker));
  }

  async function control(runId: string, op: 'pause' | 'resume' | 'cancel', actor: string, reason?: string) {
    const run = await core.apply(runId, (_run, stamp): RunEvent => {
      // `run.resumed` carries no reason.
      if (op === 'resume') return { type: 'run.resumed', ...stamp(actor) };
      return { type: CONTROL[op], ...stamp(actor), ...(reason ? { reason } : {}) };
    });
    // SPEC §2.5: cancelling a run also cancels its in-flight prediction; the commit above wrote
    // that cancel as durable work (run-cancel.ts), done right after it or by any node later.
    return run;
  }

  /** Replay the whole log through the machine and compare with the stored snapshot. */
  async function verify(runId: string): Promise<{ run_id: string; seq: number; consistent: boolean }> {
    const rec = await core.storeCall(() => opts.store.getRun(runId));
    if (!rec) throw new HitlError('run_not_found', `Run ${runId} not found`);
    const rows: EventRow[] = [];
    for (let after = 0; after < rec.seq; ) {
      const page = await core.storeCall(() => opts.store.listEvents(runId, after, 1000));
      // Rows after the record's seq were appended since it was read (audit rows of a finished run).
      rows.push(...page.filter((r) => r.seq <= rec.seq));
      if (page.length < 1000) break;
      after = page[page.length - 1]?.seq ?? after;
    }
    let consistent = rows.length === rec.seq && rows.every((r, i) => r.seq === i + 1);
    try {
      const replayed = persisted(replay(rows));
      // A run last stored by an earlier machine version is compared as that version's upgrade.
      const stored = upgradedSnapshot(rec.envelope) ?? rec.envelope.snapshot;
      consistent = consistent && canonical(replayed) === canonical(stored);
    } catch {
      consistent = false;
    }
    return { run_id: runId, seq: rec.seq, consistent };
  }

  function status(run: LoadedRun): RunStatusView {
    return statusView(run.snapshot, run.updated_at);
  }

  const host = {
    createRun,
    decide,
    control,
    verify,
    status,
    read: core.read,
    readAtLeast: core.readAtLeast,
    /** The run as this node has it (local copy, cache, else Postgres), without a freshness
     *  probe: for what never changes over a run; writes are guarded by `seq` anyway. */
    current: (runId: string) => core.load(runId),
    mustRead,
    view: core.viewOf,
    subscribe: core.subscribe,
    publish: core.publish,
    onPredictionState: worker.onPredictionState,
    listEvents: (runId: string, afterSeq: number, limit: number) =>
      core.storeCall(() => opts.store.listEvents(runId, afterSeq, limit)),
    listRuns: (filter: RunFilter, limit: number, cursor: string | null) =>
      core.storeCall(() => opts.store.listRuns(filter, limit, cursor)),
    listPendingApprovals: (
      filter: Parameters<RunHostDeps['store']['listPendingApprovals']>[0],
      limit: number,
      cursor: string | null,
    ) => core.storeCall(() => opts.store.listPendingApprovals(filter, limit, cursor)),
    idempotency: {
      get: (keyId: string, key: string) => core.storeCall(() => opts.store.getIdempotency(keyId, key)),
      put: (rec: IdempotencyRecord) => core.storeCall(() => opts.store.putIdempotency(rec)),
      finish: (rec: IdempotencyRecord) => core.storeCall(() => opts.store.finishIdempotency(rec)),
      release: (keyId: string, key: string) =>
        core.storeCall(() => opts.store.releaseIdempotency(keyId, key)),
    },
    /** Webhook de-duplication: true the first time an id is seen. */
    rememberWebhook: (id: string) => core.storeCall(() => opts.store.rememberWebhook(id)),
    /** Readiness: Postgres answers (throws `unavailable` otherwise); cache and fan-out health. */
    async health(): Promise<{ postgres: boolean; cache: boolean; bus: boolean }> {
      const postgres = await opts.store.ping().then(
        () => true,
        () => false,
      );
      return { postgres, cache: opts.cache.healthy(), bus: opts.bus.healthy() };
    },
    liveCount: core.liveCount,
    /** This node's id. */
    node: opts.node,
    /** The providers this node offers (name, tools, operations, configured). */
    providers: () =>
      opts.providers.list().map((p) => ({
        name: p.name,
        tools: p.tools,
        operations: p.operations,
        configured: p.configured(),
      })),
    /** Logical commits, the write transactions they took, batches, seq probes (for /metrics). */
    stats: core.stats,
    timers,
    start(): void {
      worker.resume();
      timers.start();
    },
    async stop(graceMs = 10_000): Promise<void> {
      timers.stop();
      await worker.drain(graceMs);
    },
  };
  cores.set(host, core);
  return host;
}

export type RunHost = ReturnType<typeof createRunHost>;
