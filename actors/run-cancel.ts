import type { Fact } from '../machines/run-facts.ts';
import type { DueTimer } from '../persistence/types.ts';
import { HitlError } from './errors.ts';
import { type PredictionState, ProviderError } from './providers/types.ts';
import type { RunCore } from './run-core.ts';

/** Tries of one cancel before it gives up (a try whose node died counts). */
export const CANCEL_MAX_ATTEMPTS = 10;

/** Delay after failed try `n` (1-based): 1 s doubling, at most 5 minutes. */
export function cancelDelayMs(n: number): number {
  return Math.min(1000 * 2 ** (n - 1), 5 * 60_000);
}

const FINISHED = new Set<PredictionState['status']>(['succeeded', 'failed']);

/** A 4xx other than 429 will answer the same next time: no use retrying. */
const permanent = (err: unknown) =>
  err instanceof ProviderError && (err.kind === 'provider_error' || err.kind === 'validation');

/**
 * Cancelling a prediction as durable work (SPEC §2.5, issue 12). The commit that stops waiting
 * for a prediction writes a `cancel` item into the timers table; any node claims it (SKIP
 * LOCKED), sends the cancel, and appends the request and the provider's answer to the run's log
 * as derived audit rows (replay skips them). A failed try is retried with backoff, then given up.
 */
export function createCancelWork(core: RunCore) {
  function providerOf(name: string) {
    const p = core.deps.providers.get(name);
    if (!p) throw new HitlError('unsupported_provider', `Provider ${name} is not available`);
    return p;
  }

  /**
   * Handle a claimed `cancel` item. Returns true when the caller must not complete it: it was
   * rescheduled (to try again later) or finished by the audit commit itself (atomically, so a
   * logged answer and a pending item never coexist).
   */
  async function handle(timer: DueTimer): Promise<boolean> {
    const runId = timer.run_id;
    if (!runId) return false;
    const run = await core.load(runId);
    if (!run) return false;
    const provider = providerOf(run.snapshot.context.provider);
    const predictionId = timer.key;
    const attempt = timer.attempts + 1;
    core.deps.fault?.('before_cancel_request');
    const requested: Fact = {
      type: 'prediction.cancel_requested',
      message: `Cancel of prediction ${predictionId} sent (try ${attempt})`,
      payload: { prediction_id: predictionId, attempt, requested_at: core.now().toISOString() },
    };
    let state: PredictionState;
    try {
      state = await provider.cancel(predictionId);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      const giveUp = permanent(err) || attempt >= CANCEL_MAX_ATTEMPTS;
      const retryAt = giveUp ? null : new Date(core.now().getTime() + cancelDelayMs(attempt)).toISOString();
      const logged = await core.appendAudit(
        runId,
        () => [
          requested,
          {
            type: 'prediction.cancel_failed',
            message: retryAt
              ? `Cancel of prediction ${predictionId} failed, retrying at ${retryAt}: ${error}`
              : `Cancel of prediction ${predictionId} failed, giving up: ${error}`,
            payload: { prediction_id: predictionId, attempt, error, retry_at: retryAt, gave_up: giveUp },
          },
        ],
        retryAt ? {} : { done: [timer.id] },
      );
      if (!retryAt) return logged !== null;
      await core.deps.store.rescheduleTimer(timer.id, retryAt, true);
      return true;
    }
    const alreadyFinished = FINISHED.has(state.status);
    const logged = await core.appendAudit(
      runId,
      () => [
        requested,
        {
          type: 'prediction.cancel_confirmed',
          message: alreadyFinished
            ? `Prediction ${predictionId} had already finished (${state.status}): nothing to cancel`
            : `Prediction ${predictionId} cancel confirmed (${state.status})`,
          payload: {
            prediction_id: predictionId,
            status: state.status,
            already_finished: alreadyFinished,
            completed_at: state.completed_at,
          },
        },
      ],
      { done: [timer.id] },
    );
    return logged !== null;
  }

  /** A prediction created after its run stopped wanting it: logged, and cancelled as durable work. */
  async function orphan(runId: string, predictionId: string): Promise<boolean> {
    const run = await core.appendAudit(
      runId,
      () => [
        {
          type: 'prediction.orphaned',
          message: `Prediction ${predictionId} was created after the run stopped waiting for it; cancelling it`,
          payload: { prediction_id: predictionId },
        },
      ],
      { add: [{ kind: 'cancel', key: predictionId, fire_at: core.now().toISOString() }] },
    );
    return run !== null;
  }

  return { handle, orphan };
}

export type CancelWork = ReturnType<typeof createCancelWork>;
