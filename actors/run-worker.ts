import type { RunEvent } from '../machines/run-events.ts';
import type { RunSnapshot } from '../machines/run-state.ts';
import { workFor } from '../machines/run-work.ts';
import { HitlError } from './errors.ts';
import { escapeText, storablePrediction } from './providers/storable.ts';
import { type PredictionState, type Provider, ProviderError } from './providers/types.ts';
import { type CommitCause, isRefusal, type RunCore } from './run-host.ts';

type PredictionErrorCode = Extract<RunEvent, { type: 'prediction.error' }>['code'];

const CODE_OF: Record<ProviderError['kind'], PredictionErrorCode> = {
  rate_limited: 'rate_limited',
  connection_refused: 'connection_refused',
  validation: 'model_validation_error',
  outcome_unknown: 'submission_outcome_unknown',
  provider_error: 'provider_error',
};

/**
 * Runs the work a committed state asks for (SPEC §2.6) and feeds outcomes back as events.
 * Work is safe to run twice: a submission is sent only by the commit that logged its attempt; a
 * recovered `submit` never resubmits, it declares the outcome unknown.
 */
export function createRunWorker(
  core: RunCore,
  opts: { webhookUrl?: (runId: string) => string | undefined } = {},
) {
  const inFlight = new Set<Promise<void>>();
  // Runs with work in flight here, counted: work started by a commit of earlier work outlives it.
  const busy = new Map<string, number>();

  function providerOf(snapshot: RunSnapshot): Provider {
    const p = core.deps.providers.get(snapshot.context.provider);
    if (!p)
      throw new HitlError('unsupported_provider', `Provider ${snapshot.context.provider} is not available`);
    return p;
  }

  /** Apply an event, treating a refusal (the run moved on) as "nothing to do". */
  async function offer(
    runId: string,
    make: (at: ReturnType<RunCore['stamp']>) => RunEvent,
  ): Promise<boolean> {
    try {
      await core.apply(runId, (_run, stamp) => make(stamp('system')));
      return true;
    } catch (err) {
      if (isRefusal(err)) return false;
      throw err;
    }
  }

  async function doWork(runId: string, snapshot: RunSnapshot, cause: CommitCause): Promise<void> {
    const work = workFor(snapshot);
    if (!work) return;
    const ctx = snapshot.context;
    const provider = providerOf(snapshot);
    const actor = `provider:${provider.name}`;
    switch (work.type) {
      case 'report_capabilities': {
        const report = await provider.capabilities(ctx.request);
        await offer(runId, (s) => ({ type: 'capabilities.reported', ...s, actor, ...report }));
        return;
      }
      case 'build_payload': {
        if (!ctx.capabilities) return;
        const built = provider.buildPayload(ctx.request, ctx.capabilities);
        await offer(runId, (s) => ({
          type: 'payload.built',
          ...s,
          actor,
          payload: built.payload,
          issues: built.issues,
          changed_fields: built.changed_fields,
        }));
        return;
      }
      case 'start_submission':
        await offer(runId, (s) => ({ type: 'prediction.submitting', ...s, attempt: work.attempt }));
        return;
      case 'submit':
        if (cause === 'run.recovered') {
          // The previous owner died after logging the submission: a prediction may exist. Never resubmit.
          await offer(runId, (s) => ({
            type: 'prediction.error',
            ...s,
            code: 'submission_outcome_unknown',
            message: `Submission attempt ${work.attempt} was interrupted; a prediction may or may not exist`,
            retry_after_ms: null,
          }));
          return;
        }
        // Reached another way (a resume while the request is out, maybe on another node), the attempt
        // is someone's already: its sender logs the outcome, or the lease runs out and recovery
        // declares it unknown. Sending it again could create a second prediction.
        if (cause !== 'prediction.submitting') return;
        await submit(runId, snapshot, provider, actor);
        return;
    }
  }

  async function submit(
    runId: string,
    snapshot: RunSnapshot,
    provider: Provider,
    actor: string,
  ): Promise<void> {
    const ctx = snapshot.context;
    if (!ctx.capabilities || !ctx.payload) return;
    let ref: Awaited<ReturnType<Provider['submit']>>;
    try {
      const webhook = opts.webhookUrl?.(runId);
      ref = await provider.submit(ctx.capabilities, ctx.payload, webhook ? { webhook } : {});
    } catch (err) {
      const kind = err instanceof ProviderError ? err.kind : 'outcome_unknown';
      const message = escapeText(err instanceof Error ? err.message : 'submission failed');
      const retry = err instanceof ProviderError ? err.retryAfterMs : null;
      await offer(runId, (s) => ({
        type: 'prediction.error',
        ...s,
        actor,
        code: CODE_OF[kind],
        message,
        retry_after_ms: retry,
      }));
      return;
    }
    core.deps.fault?.('after_submit_request');
    const accepted = await offer(runId, (s) => ({
      type: 'prediction.created',
      ...s,
      actor,
      prediction_id: ref.id,
      status: ref.status,
      created_at: ref.created_at,
    }));
    if (!accepted) {
      // Cancelled (or moved on) while the request was in flight: do not leave it running.
      await provider.cancel(ref.id).catch(() => {});
      return;
    }
    if (ref.final) await onPredictionState(runId, ref.final);
  }

  /** A prediction's state from a poll or a webhook; only terminal states produce events. */
  async function onPredictionState(runId: string, received: PredictionState): Promise<void> {
    // SPEC §7: NUL / lone surrogates in what the provider returned are stored escaped, noted.
    const { state, escaped } = storablePrediction(received);
    const noted = escaped.length > 0 ? { escaped } : {};
    const run = await core.load(runId);
    if (!run) return;
    const provider = providerOf(run.snapshot);
    const actor = `provider:${provider.name}`;
    const completed_at = state.completed_at ?? core.now().toISOString();
    if (state.status === 'succeeded') {
      const processed = provider.processOutput(state);
      await offer(runId, (s) => ({
        type: 'prediction.succeeded',
        ...s,
        actor,
        prediction_id: state.id,
        completed_at,
        raw: state.raw,
        processed,
        ...noted,
      }));
    } else if (state.status === 'failed' || state.status === 'canceled') {
      const message =
        typeof state.error === 'string' ? state.error : JSON.stringify(state.error ?? state.status);
      await offer(runId, (s) => ({
        type: 'prediction.failed',
        ...s,
        actor,
        prediction_id: state.id,
        status: state.status === 'failed' ? 'failed' : 'canceled',
        completed_at,
        message,
        raw: state.raw,
        ...noted,
      }));
    }
  }

  /** Start the work for a committed state in the background (tracked so shutdown can wait). */
  function kick(runId: string, snapshot: RunSnapshot, cause: CommitCause): void {
    if (!workFor(snapshot)) return;
    track(
      (async () => {
        busy.set(runId, (busy.get(runId) ?? 0) + 1);
        try {
          await doWork(runId, snapshot, cause);
        } catch (err) {
          core.log.error(
            { run_id: runId, err: err instanceof Error ? err.message : String(err) },
            'run work failed',
          );
        } finally {
          const left = (busy.get(runId) ?? 1) - 1;
          if (left > 0) busy.set(runId, left);
          else busy.delete(runId);
        }
      })(),
    );
  }

  /** Keep background work in sight so shutdown can wait for it. */
  function track(p: Promise<void>): void {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  }

  /** SPEC §2.5: a cancelled run's unfinished prediction is cancelled at the provider (best effort). */
  function cancelPrediction(runId: string, snapshot: RunSnapshot): void {
    const prediction = snapshot.context.prediction;
    if (!prediction || prediction.completed_at !== null) return;
    track(
      providerOf(snapshot)
        .cancel(prediction.id)
        .catch((err: unknown) => {
          core.log.warn(
            { run_id: runId, err: err instanceof Error ? err.message : String(err) },
            'prediction cancel failed',
          );
        }),
    );
  }

  return {
    kick,
    cancelPrediction,
    onPredictionState,
    providerOf,
    busyRuns: () => [...busy.keys()],
    /** Wait for in-flight work, at most `ms`. */
    async drain(ms: number): Promise<void> {
      const timeout = new Promise<void>((r) => setTimeout(r, ms).unref());
      await Promise.race([Promise.allSettled([...inFlight]).then(() => {}), timeout]);
    },
  };
}

export type RunWorker = ReturnType<typeof createRunWorker>;
