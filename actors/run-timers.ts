import { openApproval } from '../machines/run-context.ts';
import { ProviderWork, type RunEvent } from '../machines/run-events.ts';
import { phase } from '../machines/run-state.ts';
import type { DueTimer } from '../persistence/types.ts';
import { isRefusal } from './errors.ts';
import type { CancelWork } from './run-cancel.ts';
import type { RunCore } from './run-core.ts';
import type { RunWorker } from './run-worker.ts';

export interface TimerOptions {
  /** How often due timers and expired leases are looked for. */
  tickMs?: number;
  recoveryMs?: number;
  /** Polling cadence for an in-flight prediction (longer when webhooks are on). */
  pollMs?: number;
  /**
   * How long a claimed timer is left to its node. A node that dies holding a claim delays the timer
   * by this much, so it is short enough for a deadline to fire within 5 s (SPEC §2.4); handling that
   * outlasts it may run twice on two nodes, which the run's seq and refusals make harmless.
   */
  claimMs?: number;
  /** Standalone approvals' deadlines are handled by their own service. */
  onApprovalDeadline?: (timer: DueTimer) => Promise<void>;
}

/**
 * Durable wake-ups (deadlines, retries, polls) and lease recovery. Timers live in Postgres and are
 * claimed with SKIP LOCKED, so each fires on exactly one node, also after restarts.
 */
export function createRunTimers(
  core: RunCore,
  worker: RunWorker,
  cancels: CancelWork,
  opts: TimerOptions = {},
) {
  const tickMs = opts.tickMs ?? 250;
  const recoveryMs = opts.recoveryMs ?? 2000;
  const pollMs = opts.pollMs ?? 1000;
  const claimMs = opts.claimMs ?? 3000;
  const handles: NodeJS.Timeout[] = [];
  let stopped = false;
  let ticking = false;
  let again = false;
  let recovering = false;

  /** Apply a timer's event; a refusal means the run moved on and the timer is stale. */
  async function fire(runId: string, make: (s: ReturnType<RunCore['stamp']>) => RunEvent) {
    await core
      .apply(runId, (_run, stamp) => make(stamp('system:timeout')))
      .catch((err: unknown) => {
        if (!isRefusal(err)) throw err;
      });
  }

  /** A checkpoint deadline: `on_timeout` applies once; a timer for a closed approval is ignored. */
  async function deadline(timer: DueTimer): Promise<void> {
    if (!timer.run_id) return;
    await core
      .apply(timer.run_id, (run, stamp) => {
        const ctx = run.snapshot.context;
        const open = openApproval(ctx);
        const s = stamp('system:timeout');
        if (!open || open.approval_id !== timer.key)
          return { type: 'approval.expired', ...s, approval_id: timer.key };
        const onTimeout = ctx.config.on_timeout;
        if (onTimeout === 'approve' && open.actions.includes('approve')) {
          return {
            type: 'review.approve',
            ...s,
            approval_id: open.approval_id,
            reason: 'Approved on timeout',
          };
        }
        if (onTimeout === 'reject') {
          return {
            type: 'review.reject',
            ...s,
            approval_id: open.approval_id,
            reason: 'Rejected on timeout',
          };
        }
        return { type: 'approval.expired', ...s, approval_id: open.approval_id };
      })
      .catch((err: unknown) => {
        if (!isRefusal(err)) throw err;
      });
  }

  async function retry(timer: DueTimer): Promise<void> {
    if (!timer.run_id) return;
    const attempt = Number(timer.key);
    await fire(timer.run_id, (s) => ({ type: 'prediction.submitting', ...s, actor: 'system', attempt }));
  }

  /** A provider step's backoff passed: log the retry; its commit starts the call. */
  async function stepRetry(timer: DueTimer): Promise<void> {
    if (!timer.run_id) return;
    const [name = '', n = ''] = timer.key.split(':');
    const work = ProviderWork.safeParse(name);
    const attempt = Number(n);
    if (!work.success || !Number.isInteger(attempt) || attempt < 1) return;
    await fire(timer.run_id, (s) => ({
      type: 'provider.retrying',
      ...s,
      actor: 'system',
      work: work.data,
      attempt,
    }));
  }

  /** Returns true when the timer was rescheduled (the prediction is still running). */
  async function poll(timer: DueTimer): Promise<boolean> {
    if (!timer.run_id) return false;
    const run = await core.load(timer.run_id, true);
    if (!run || run.snapshot.status === 'done' || phase(run.snapshot) !== 'waiting') return false;
    const ctx = run.snapshot.context;
    if (!ctx.prediction || ctx.prediction.id !== timer.key) return false;
    const provider = worker.providerOf(run.snapshot);
    const deadlineAt = Date.parse(ctx.prediction.created_at) + ctx.config.prediction_timeout_seconds * 1000;
    try {
      const state = await provider.poll(timer.key);
      if (state.status === 'succeeded' || state.status === 'failed' || state.status === 'canceled') {
        await worker.onPredictionState(timer.run_id, state);
        return false;
      }
    } catch (err) {
      core.log.warn(
        { run_id: timer.run_id, err: err instanceof Error ? err.message : String(err) },
        'poll failed',
      );
    }
    if (core.now().getTime() >= deadlineAt) {
      await fire(timer.run_id, (s) => ({
        type: 'prediction.error',
        ...s,
        actor: 'system',
        code: 'prediction_timeout',
        message: `The prediction did not finish within ${ctx.config.prediction_timeout_seconds} s`,
        retry_after_ms: null,
      }));
      // That commit wrote the prediction's cancel as durable work (see run-cancel.ts).
      return false;
    }
    const delay = Math.min(pollMs * 2 ** Math.min(timer.attempts, 3), 10 * pollMs);
    await core.deps.store.rescheduleTimer(timer.id, new Date(core.now().getTime() + delay).toISOString());
    return true;
  }

  async function handle(timer: DueTimer): Promise<void> {
    // True when the handler rescheduled the timer or removed it itself.
    let rescheduled = false;
    try {
      if (timer.kind === 'deadline') await deadline(timer);
      else if (timer.kind === 'retry') await retry(timer);
      else if (timer.kind === 'poll') rescheduled = await poll(timer);
      else if (timer.kind === 'step_retry') await stepRetry(timer);
      else if (timer.kind === 'cancel') rescheduled = await cancels.handle(timer);
      else if (timer.kind === 'approval_deadline') await opts.onApprovalDeadline?.(timer);
    } catch (err) {
      // Leave the claim to expire: another tick (here or on another node) tries again.
      core.log.error(
        { timer: timer.id, kind: timer.kind, err: err instanceof Error ? err.message : String(err) },
        'timer failed',
      );
      return;
    }
    if (!rescheduled) await core.deps.store.completeTimer(timer.id).catch(() => {});
  }

  async function tick(): Promise<void> {
    if (stopped) return;
    if (ticking) {
      again = true;
      return;
    }
    ticking = true;
    try {
      const due = await core.deps.store.claimDueTimers(core.deps.node, 50, claimMs);
      if (due.length > 0) core.deps.fault?.('after_claim');
      await Promise.all(due.map((t) => handle(t)));
    } catch (err) {
      core.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'timer tick failed');
    } finally {
      ticking = false;
      if (again) {
        again = false;
        void tick();
      }
    }
  }

  /** Take over runs whose owner died with work pending: log `run.recovered`, then continue. */
  async function recover(): Promise<void> {
    if (recovering || stopped) return;
    recovering = true;
    try {
      await core.deps.store.renewLeases(core.deps.node, worker.busyRuns(), core.leaseMs);
      const ids = await core.deps.store.expiredLeases(20);
      for (const runId of ids) {
        await core
          .apply(
            runId,
            (_run, stamp) => ({ type: 'run.recovered', ...stamp('system'), node: core.deps.node }),
            {
              takeover: true,
            },
          )
          .catch((err: unknown) => {
            core.log.info(
              { run_id: runId, err: err instanceof Error ? err.message : String(err) },
              'recovery skipped',
            );
          });
      }
    } catch (err) {
      core.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'recovery scan failed');
    } finally {
      recovering = false;
    }
  }

  return {
    tick,
    /** Work was just written that is due now (a cancel): claim it without waiting for the tick. */
    nudge(): void {
      void tick();
    },
    recover,
    start(): void {
      stopped = false;
      handles.push(
        setInterval(() => void tick(), tickMs),
        setInterval(() => void recover(), recoveryMs),
      );
      void recover();
    },
    stop(): void {
      stopped = true;
      for (const h of handles.splice(0)) clearInterval(h);
    },
  };
}
