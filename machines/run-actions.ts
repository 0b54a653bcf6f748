import { assign, type ParameterizedObject } from 'xstate';
import type { RunContext } from './run-context.ts';
import {
  ACTION_OF,
  addMs,
  closeApproval,
  closeStep,
  decisionStatus,
  isDecision,
  markLast,
  startStep,
  stepOf,
  withOpenedApproval,
} from './run-decisions.ts';
import type { RunCreated, RunEvent } from './run-events.ts';
import { retryDelayMs } from './run-policy.ts';
import type { CheckpointType, Step } from './schemas.ts';

/**
 * The run machine's named actions: each a pure update of the context from the event (no clock,
 * no ids: both come stamped on the event), so a replay reaches the same context.
 */

/** The context of a new run, from its `run.created` input. */
export function initialContext(input: RunCreated): RunContext {
  return {
    run_id: input.run_id,
    config: input.config,
    user_id: input.user_id,
    session_id: input.session_id,
    provider: input.provider,
    tool_key: input.tool_key,
    original_input: input.original_input,
    request: input.request,
    created_at: input.at,
    paused: false,
    capabilities: null,
    confidence: null,
    info_signals: null,
    payload: null,
    issues: [],
    changed_fields: 0,
    attempt: 0,
    auto_retries: 0,
    retry_at: null,
    work_failures: 0,
    work_retry_at: null,
    prediction: null,
    raw_response: null,
    processed_response: null,
    final_result: null,
    error: null,
    approvals: [],
    step_history: [{ step: 'created', status: 'running', started_at: input.at, ended_at: null }],
    provider_ms: 0,
    ended_at: null,
  };
}

/** Submission errors retried without a human (SPEC §2.5). */
export const AUTO_RETRY_CODES = new Set(['rate_limited', 'connection_refused']);

/** The step a provider work belongs to, as named in the run's error when it gives up. */
const STEP_OF_WORK = { capabilities: 'information_review', payload: 'payload_review' } as const;
const LABEL_OF_WORK = { capabilities: 'Reporting capabilities', payload: 'Building the payload' } as const;

type Params = ParameterizedObject['params'] | undefined;

/** An `assign` of the run machine, typed once so each action below only says what it changes. */
function update<P extends Params = undefined>(
  fn: (args: { context: RunContext; event: RunEvent }, params: P) => Partial<RunContext>,
) {
  return assign<RunContext, RunEvent, P, RunEvent, never>(fn);
}

export const runActions = {
  startStep: update<{ step: Step }>(({ context, event }, params) => ({
    step_history: startStep(context.step_history, params.step, event.at),
  })),
  completeStep: update(({ context, event }) => ({
    step_history: closeStep(context.step_history, event.at, 'completed'),
  })),
  endRun: update<{ step: Step; status: string }>(({ context, event }, params) => ({
    ended_at: event.at,
    step_history: [
      ...closeStep(context.step_history, event.at, params.status),
      { step: params.step, status: params.status, started_at: event.at, ended_at: event.at },
    ],
  })),
  openApproval: update<{ checkpoint: CheckpointType }>(({ context, event }, params) =>
    withOpenedApproval(context, params.checkpoint, event),
  ),
  /** Record the decision on the approval and close the step with it. */
  decide: update(({ context, event }) => {
    if (!isDecision(event)) return {};
    const status = decisionStatus(event);
    return {
      approvals: closeApproval(context, status, ACTION_OF[event.type], event),
      step_history: closeStep(context.step_history, event.at, status, event.actor),
    };
  }),
  /** Record the decision but stay in the step (a new approval follows, or the step goes on). */
  decideAndStay: update(({ context, event }) => {
    if (!isDecision(event)) return {};
    return {
      approvals: closeApproval(context, decisionStatus(event), ACTION_OF[event.type], event),
      step_history: markLast(context.step_history, { status: 'running' }),
    };
  }),
  reportCapabilities: update(({ event }) =>
    event.type === 'capabilities.reported'
      ? {
          capabilities: event.capabilities,
          confidence: event.confidence,
          info_signals: event.signals,
          work_failures: 0,
        }
      : {},
  ),
  scheduleWorkRetry: update(({ event }) =>
    event.type === 'provider.failed'
      ? { work_failures: event.attempt, work_retry_at: addMs(event.at, retryDelayMs(event.attempt, null)) }
      : {},
  ),
  beginWorkRetry: update(() => ({ work_retry_at: null })),
  giveUpWork: update(({ event }) => {
    if (event.type !== 'provider.failed') return {};
    return {
      work_failures: event.attempt,
      work_retry_at: null,
      error: {
        code: 'provider_unavailable',
        message: `${LABEL_OF_WORK[event.work]} failed ${event.attempt} time(s); last error: ${event.message}`,
        step: STEP_OF_WORK[event.work],
        retryable: false,
      },
    };
  }),
  applyInfoEdit: update(({ context, event }) => {
    if (event.type !== 'review.edit' || !event.report) return {};
    const { prompt, model_config } = event.edits;
    return {
      request: {
        ...context.request,
        prompt: typeof prompt === 'string' ? prompt : context.request.prompt,
        model_config:
          typeof model_config === 'object' && model_config !== null
            ? { ...context.request.model_config, ...(model_config as Record<string, unknown>) }
            : context.request.model_config,
      },
      capabilities: event.report.capabilities,
      confidence: event.report.confidence,
      info_signals: event.report.signals,
    };
  }),
  setPayload: update(({ event }) =>
    event.type === 'payload.built'
      ? {
          payload: event.payload,
          issues: event.issues,
          changed_fields: event.changed_fields,
          work_failures: 0,
        }
      : {},
  ),
  applyBuilt: update(({ event }) =>
    (event.type === 'review.edit' || event.type === 'review.retry') && event.built
      ? {
          payload: event.built.payload,
          issues: event.built.issues,
          changed_fields: event.built.changed_fields,
        }
      : {},
  ),
  afterHumanRetry: update(() => ({ auto_retries: 0, error: null, retry_at: null })),
  beginAttempt: update(({ event }) =>
    event.type === 'prediction.submitting' ? { attempt: event.attempt, retry_at: null } : {},
  ),
  setPrediction: update(({ event }) =>
    event.type === 'prediction.created'
      ? {
          prediction: {
            id: event.prediction_id,
            status: event.status,
            created_at: event.created_at,
            completed_at: null,
          },
          error: null,
        }
      : {},
  ),
  scheduleRetry: update(({ context, event }) => {
    if (event.type !== 'prediction.error') return {};
    const n = context.auto_retries + 1;
    return {
      auto_retries: n,
      retry_at: addMs(event.at, retryDelayMs(n, event.retry_after_ms)),
      error: { code: event.code, message: event.message, step: 'api_call' as const, retryable: true },
    };
  }),
  setRecoveryError: update(({ event }) => {
    if (event.type !== 'prediction.error') return {};
    const code = AUTO_RETRY_CODES.has(event.code) ? 'retries_exhausted' : event.code;
    return {
      error: { code, message: event.message, step: 'api_call' as const, retryable: true },
      retry_at: null,
    };
  }),
  setOutput: update(({ context, event }) => {
    if (event.type !== 'prediction.succeeded' || !context.prediction) return {};
    const ms = Math.max(0, Date.parse(event.completed_at) - Date.parse(context.prediction.created_at));
    return {
      prediction: { ...context.prediction, status: 'succeeded', completed_at: event.completed_at },
      raw_response: event.raw,
      processed_response: event.processed,
      provider_ms: context.provider_ms + ms,
    };
  }),
  finishWithOutput: update(({ context }) => ({ final_result: context.processed_response?.output ?? null })),
  finishWithEdit: update(({ event }) =>
    event.type === 'review.edit' ? { final_result: event.edits.response } : {},
  ),
  failRun: update(({ context, event }) => {
    if (event.type !== 'prediction.failed' || !context.prediction) return {};
    const ms = Math.max(0, Date.parse(event.completed_at) - Date.parse(context.prediction.created_at));
    return {
      prediction: { ...context.prediction, status: event.status, completed_at: event.completed_at },
      raw_response: event.raw,
      provider_ms: context.provider_ms + ms,
      error: {
        code: `prediction_${event.status}`,
        message: event.message,
        step: 'api_call' as const,
        retryable: false,
      },
    };
  }),
  rejectRun: update(({ context, event }) => ({
    error: {
      code: 'rejected',
      message: 'reason' in event && event.reason ? event.reason : 'Rejected by a reviewer',
      step: stepOf(context),
      retryable: false,
    },
  })),
  expireRun: update(({ context, event }) => ({
    approvals: closeApproval(context, 'expired', 'expired', event),
    error: {
      code: 'expired',
      message: 'The approval expired with no decision',
      step: stepOf(context),
      retryable: false,
    },
  })),
  cancelRun: update(({ context, event }) => ({
    approvals: closeApproval(context, 'cancelled', 'cancelled', event),
    error: {
      code: 'cancelled',
      message: 'reason' in event && event.reason ? event.reason : 'Cancelled',
      step: stepOf(context),
      retryable: false,
    },
  })),
  pause: update(() => ({ paused: true })),
  resume: update(() => ({ paused: false })),
};
