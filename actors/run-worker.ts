import type { ProviderWork, RunEvent } from '../machines/run-events.ts';
import type { RunSnapshot } from '../machines/run-state.ts';
import { workFor } from '../machines/run-work.ts';
import { HitlError, isRefusal } from './errors.ts';
import { escapeText, storablePrediction } from './providers/storable.ts';
import { type PredictionState, type Provider, ProviderError } from './providers/types.ts';
import type { CommitCause, RunCore } from './run-core.ts';

/** How long the outcome of work is offered again while the database is unavailable. */
const UNAVAILABLE_RETRY_MS = 60_000;

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
  opts: {
    webhookUrl?: (runId: string) => string | undefined;
    /** A prediction created for a run that no longer wants it (cancelled while it was sent). */
    onOrphan?: (runId: string, predictionId: string) => Promise<void>;
  } = {},
) {
  const inFlight = new Set<Promise<void>>();
  // Runs with work in flight here, counted: work started by a commit of earlier work outlives it.
  const busy = new Map<string, number>();
  let stopping = false;

  function providerOf(snapshot: RunSnapshot): Provider {
    const p = core.deps.providers.get(snapshot.context.provider);
    if (!p)
      throw new HitlError('unsupported_provider', `Provider ${snapshot.context.provider} is not available`);
    return p;
  }

  /**
   * Apply an event (and those that came with it), treating a refusal (the run moved on) as "nothing
   * to do". While the database is unavailable the commit is tried again, for up to
   * `UNAVAILABLE_RETRY_MS`: the outcome of work already done (a prediction's id above all) is not
   * given up for a short outage. The run stays busy here meanwhile, so its lease is renewed once
   * the database is back and no node declares the work lost.
   */
  async function offer(
    runId: string,
    make: (at: ReturnType<RunCore['stamp']>) => RunEvent | RunEvent[],
  ): Promise<boolean> {
    const giveUpAt = Date.now() + UNAVAILABLE_RETRY_MS;
    for (let wait = 50; ; wait = Math.min(wait * 2, 1000)) {
      try {
        await core.apply(runId, (_run, stamp) => make(stamp('system')));
        return true;
      } catch (err) {
        if (isRefusal(err)) return false;
        const transient = err instanceof HitlError && err.code === 'unavailable';
        if (!transient || stopping || Date.now() + wait > giveUpAt) throw err;
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  async function doWork(runId: string, snapshot: RunSnapshot, cause: CommitCause): Promise<void> {
    const work = workFor(snapshot);
    if (!work) return;
    const ctx = snapshot.context;
    const provider = providerOf(snapshot);
    const actor = `provider:${provider.name}`;
    /** A provider step's call failed: logged, then retried after a backoff or given up (machine). */
    const failed = (kind: ProviderWork, err: unknown) =>
      offer(runId, (s) => ({
        type: 'provider.failed',
        ...s,
        actor,
        work: kind,
        attempt: ctx.work_failures + 1,
        message: (err instanceof Error ? err.message : String(err)).slice(0, 500) || 'failed',
      }));
    switch (work.type) {
      case 'report_capabilities': {
        let report: Awaited<ReturnType<Provider['capabilities']>>;
        try {
          report = await provider.capabilities(ctx.request);
        } catch (err) {
          await failed('capabilities', err);
          return;
        }
        await offer(runId, (s) => ({ type: 'capabilities.reported', ...s, actor, ...report }));
        return;
      }
      case 'build_payload': {
        if (!ctx.capabilities) return;
        let built: ReturnType<Provider['buildPayload']>;
        try {
          built = provider.buildPayload(ctx.request, ctx.capabilities);
        } catch (err) {
          await failed('payload', err);
          return;
        }
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
    // The creation and, when the provider answered already finished, its outcome: one input, one commit.
    const accepted = await offer(runId, (s) => {
      const created: RunEvent = {
        type: 'prediction.created',
        ...s,
        actor,
        prediction_id: ref.id,
        status: ref.status,
        created_at: ref.created_at,
      };
      const outcome = ref.final ? outcomeEvent(provider, ref.final, s) : null;
      return outcome ? [created, outcome] : created;
    });
    if (!accepted) {
      // Cancelled (or moved on) while the request was in flight: do not leave it running.
      await opts.onOrphan?.(runId, ref.id);
    }
  }

  /** The event of a prediction's terminal state (null while it runs). NUL / lone surrogates in
   *  what the provider returned are stored escaped and noted (SPEC §7). */
  function outcomeEvent(
    provider: Provider,
    received: PredictionState,
    s: ReturnType<RunCore['stamp']>,
  ): RunEvent | null {
    const { state, escaped } = storablePrediction(received);
    const noted = escaped.length > 0 ? { escaped } : {};
    const actor = `provider:${provider.name}`;
    const completed_at = state.completed_at ?? core.now().toISOString();
    if (state.status === 'succeeded') {
      return {
        type: 'prediction.succeeded',
        ...s,
        actor,
        prediction_id: state.id,
        completed_at,
        raw: state.raw,
        processed: provider.processOutput(state),
        ...noted,
      };
    }
    if (state.status === 'failed' || state.status === 'canceled') {
      const message =
        typeof state.error === 'string' ? state.error : JSON.stringify(state.error ?? state.status);
      return {
        type: 'prediction.failed',
        ...s,
        actor,
        prediction_id: state.id,
        status: state.status === 'failed' ? 'failed' : 'canceled',
        completed_at,
        message,
        raw: state.raw,
        ...noted,
      };
    }
    return null;
  }

  /** A prediction's state from a poll or a webhook; only terminal states produce events. */
  async function onPredictionState(runId: string, state: PredictionState): Promise<void> {
    const run = await core.load(runId);
    if (!run) return;
    const provider = providerOf(run.snapshot);
    const probe = outcomeEvent(provider, state, core.stamp('system'));
    if (!probe) return;
    await offer(runId, (s) => outcomeEvent(provider, state, s) ?? probe);
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

  return {
    kick,
    onPredictionState,
    providerOf,
    busyRuns: () => [...busy.keys()],
    /** Background work may retry commits again (a host started after a stop). */
    resume(): void {
      stopping = false;
    },
    /** Wait for in-flight work, at most `ms`; commits that wait for the database stop retrying. */
    async drain(ms: number): Promise<void> {
      stopping = true;
      const timeout = new Promise<void>((r) => setTimeout(r, ms).unref());
      await Promise.race([Promise.allSettled([...inFlight]).then(() => {}), timeout]);
    },
  };
}

export type RunWorker = ReturnType<typeof createRunWorker>;
