import { AUTO_RETRY_CODES } from './run-actions.ts';
import { hasErrors, type RunContext } from './run-context.ts';
import { isDecision } from './run-decisions.ts';
import type { ProviderWork, RunEvent } from './run-events.ts';
import { stopsAtInformation, stopsAtPayload, stopsAtResponse } from './run-policy.ts';
import { decisionRefusal, pauseRefusal, resumeRefusal } from './run-refusal.ts';

/** What a guard of the run machine reads: the context and the event, nothing else (pure). */
type Args = { context: RunContext; event: RunEvent };

/**
 * The run machine's named guards. The ones that refuse a caller's event ask the same rule as the
 * host's `refusal` (run-refusal.ts), so "refused" and "changed nothing" cannot drift apart.
 */
export const runGuards = {
  notPaused: ({ context }: Args) => !context.paused,
  isPaused: ({ context }: Args) => resumeRefusal(context) === null,
  canPause: ({ context }: Args) => pauseRefusal(context) === null,
  stopsAtInformation: ({ context }: Args) => stopsAtInformation(context),
  stopsAtPayload: ({ context }: Args) => stopsAtPayload(context),
  stopsAtResponse: ({ context }: Args) => stopsAtResponse(context),
  /** The event answers the open approval with an action it offers and edits that fit. */
  decisionValid: ({ context, event }: Args) => isDecision(event) && decisionRefusal(context, event) === null,
  editLeavesNoErrors: ({ event }: Args) =>
    event.type === 'review.edit' && event.built !== undefined && !hasErrors(event.built.issues),
  answersOpenApproval: ({ context, event }: Args) =>
    event.type === 'approval.expired' && decisionRefusal(context, event) === null,
  nextAttempt: ({ context, event }: Args) =>
    event.type === 'prediction.submitting' && event.attempt === context.attempt + 1 && !context.paused,
  canAutoRetry: ({ context, event }: Args) =>
    event.type === 'prediction.error' &&
    AUTO_RETRY_CODES.has(event.code) &&
    context.auto_retries < context.config.max_retries,
  /** The next failure of this step's provider call (a duplicate report is not). */
  isWorkFailure: ({ context, event }: Args, params: { work: ProviderWork }) =>
    event.type === 'provider.failed' &&
    event.work === params.work &&
    event.attempt === context.work_failures + 1 &&
    context.work_retry_at === null,
  /** Retries left: the first call plus `max_retries` retries. */
  mayRetryWork: ({ context, event }: Args, _params: { work: ProviderWork }) =>
    event.type === 'provider.failed' && event.attempt <= context.config.max_retries,
  isWorkRetry: ({ context, event }: Args, params: { work: ProviderWork }) =>
    event.type === 'provider.retrying' &&
    event.work === params.work &&
    event.attempt === context.work_failures + 1 &&
    context.work_retry_at !== null,
  currentPrediction: ({ context, event }: Args) =>
    'prediction_id' in event && context.prediction !== null && context.prediction.id === event.prediction_id,
};
