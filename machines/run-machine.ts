import { and, assign, setup } from 'xstate';
import { hasErrors, openApproval, type RunContext } from './run-context.ts';
import {
  ACTION_OF,
  addMs,
  closeApproval,
  closeStep,
  decisionStatus,
  editsProblem,
  isDecision,
  markLast,
  startStep,
  stepOf,
  withOpenedApproval,
} from './run-decisions.ts';
import type { ProviderWork, RunCreated, RunEvent } from './run-events.ts';
import { retryDelayMs, stopsAtInformation, stopsAtPayload, stopsAtResponse } from './run-policy.ts';
import type { CheckpointType, DecisionAction, Step } from './schemas.ts';

/**
 * Bumped whenever a stored snapshot of an older machine could not be continued by this one
 * (runs stored by another version are rebuilt by replaying their events). 2: provider steps
 * back off and give up (`work_failures`, `work_retry_at`).
 */
export const RUN_MACHINE_VERSION = 2;

function initialContext(input: RunCreated): RunContext {
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

const AUTO_RETRY_CODES = new Set(['rate_limited', 'connection_refused']);

/** The step a provider work belongs to, as named in the run's error when it gives up. */
const STEP_OF_WORK = { capabilities: 'information_review', payload: 'payload_review' } as const;
const LABEL_OF_WORK = { capabilities: 'Reporting capabilities', payload: 'Building the payload' } as const;

/** A provider step (capabilities or payload) fails: back off and retry, or give up (run failed). */
const onWorkFailure = (work: ProviderWork) =>
  ({
    'provider.failed': [
      {
        guard: and([
          { type: 'isWorkFailure', params: { work } },
          { type: 'mayRetryWork', params: { work } },
        ]),
        actions: 'scheduleWorkRetry',
      },
      { guard: { type: 'isWorkFailure', params: { work } }, target: '#run.failed', actions: 'giveUpWork' },
    ],
    'provider.retrying': { guard: { type: 'isWorkRetry', params: { work } }, actions: 'beginWorkRetry' },
  }) as const;

/** Every checkpoint ends the run on a reject (cancelled) or on its deadline (expired). */
const endsOnRejectOrExpiry = {
  'review.reject': { guard: 'decisionValid', target: '#run.cancelled', actions: ['decide', 'rejectRun'] },
  'approval.expired': { guard: 'answersOpenApproval', target: '#run.expired', actions: 'expireRun' },
} as const;

/**
 * The run: created → information_review → payload_review → api_call → response_review → completed.
 * Pure: no clocks, ids or I/O. The host runs the work a state names (see run-work.ts) and feeds
 * the outcomes back as events. Checkpoints wait in `awaitingReview` (tag `needsHuman`); a pause
 * holds the run in a `deciding` state until `run.resumed`.
 */
export const runMachine = setup({
  types: {} as {
    context: RunContext;
    events: RunEvent;
    input: RunCreated;
    tags: 'needsHuman' | 'terminal';
  },
  guards: {
    notPaused: ({ context }) => !context.paused,
    isPaused: ({ context }) => context.paused,
    canPause: ({ context }) => !context.paused && openApproval(context) === null,
    stopsAtInformation: ({ context }) => stopsAtInformation(context),
    stopsAtPayload: ({ context }) => stopsAtPayload(context),
    stopsAtResponse: ({ context }) => stopsAtResponse(context),
    /** The event answers the open approval with an action it offers and edits that fit. */
    decisionValid: ({ context, event }) => {
      const open = openApproval(context);
      if (!open || !isDecision(event) || event.approval_id !== open.approval_id) return false;
      if (!open.actions.includes(ACTION_OF[event.type] as DecisionAction)) return false;
      return editsProblem(open.checkpoint_type, event) === null;
    },
    editLeavesNoErrors: ({ event }) =>
      event.type === 'review.edit' && event.built !== undefined && !hasErrors(event.built.issues),
    answersOpenApproval: ({ context, event }) =>
      event.type === 'approval.expired' && openApproval(context)?.approval_id === event.approval_id,
    nextAttempt: ({ context, event }) =>
      event.type === 'prediction.submitting' && event.attempt === context.attempt + 1 && !context.paused,
    canAutoRetry: ({ context, event }) =>
      event.type === 'prediction.error' &&
      AUTO_RETRY_CODES.has(event.code) &&
      context.auto_retries < context.config.max_retries,
    /** The next failure of this step's provider call (a duplicate report is not). */
    isWorkFailure: ({ context, event }, params: { work: ProviderWork }) =>
      event.type === 'provider.failed' &&
      event.work === params.work &&
      event.attempt === context.work_failures + 1 &&
      context.work_retry_at === null,
    /** Retries left: the first call plus `max_retries` retries. */
    mayRetryWork: ({ context, event }, _params: { work: ProviderWork }) =>
      event.type === 'provider.failed' && event.attempt <= context.config.max_retries,
    isWorkRetry: ({ context, event }, params: { work: ProviderWork }) =>
      event.type === 'provider.retrying' &&
      event.work === params.work &&
      event.attempt === context.work_failures + 1 &&
      context.work_retry_at !== null,
    currentPrediction: ({ context, event }) =>
      'prediction_id' in event &&
      context.prediction !== null &&
      context.prediction.id === event.prediction_id,
  },
  actions: {
    startStep: assign(({ context, event }, params: { step: Step }) => ({
      step_history: startStep(context.step_history, params.step, event.at),
    })),
    completeStep: assign(({ context, event }) => ({
      step_history: closeStep(context.step_history, event.at, 'completed'),
    })),
    endRun: assign(({ context, event }, params: { step: Step; status: string }) => ({
      ended_at: event.at,
      step_history: [
        ...closeStep(context.step_history, event.at, params.status),
        { step: params.step, status: params.status, started_at: event.at, ended_at: event.at },
      ],
    })),
    openApproval: assign(({ context, event }, params: { checkpoint: CheckpointType }) =>
      withOpenedApproval(context, params.checkpoint, event),
    ),
    /** Record the decision on the approval and close the step with it. */
    decide: assign(({ context, event }) => {
      if (!isDecision(event)) return {};
      const status = decisionStatus(event);
      return {
        approvals: closeApproval(context, status, ACTION_OF[event.type], event),
        step_history: closeStep(context.step_history, event.at, status, event.actor),
      };
    }),
    /** Record the decision but stay in the step (a new approval follows, or the step goes on). */
    decideAndStay: assign(({ context, event }) => {
      if (!isDecision(event)) return {};
      return {
        approvals: closeApproval(context, decisionStatus(event), ACTION_OF[event.type], event),
        step_history: markLast(context.step_history, { status: 'running' }),
      };
    }),
    reportCapabilities: assign(({ event }) =>
      event.type === 'capabilities.reported'
        ? {
            capabilities: event.capabilities,
            confidence: event.confidence,
            info_signals: event.signals,
            work_failures: 0,
          }
        : {},
    ),
    scheduleWorkRetry: assign(({ event }) =>
      event.type === 'provider.failed'
        ? { work_failures: event.attempt, work_retry_at: addMs(event.at, retryDelayMs(event.attempt, null)) }
        : {},
    ),
    beginWorkRetry: assign({ work_retry_at: null }),
    giveUpWork: assign(({ event }) => {
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
    applyInfoEdit: assign(({ context, event }) => {
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
    setPayload: assign(({ event }) =>
      event.type === 'payload.built'
        ? {
            payload: event.payload,
            issues: event.issues,
            changed_fields: event.changed_fields,
            work_failures: 0,
          }
        : {},
    ),
    applyBuilt: assign(({ event }) =>
      (event.type === 'review.edit' || event.type === 'review.retry') && event.built
        ? {
            payload: event.built.payload,
            issues: event.built.issues,
            changed_fields: event.built.changed_fields,
          }
        : {},
    ),
    afterHumanRetry: assign({ auto_retries: 0, error: null, retry_at: null }),
    beginAttempt: assign(({ event }) =>
      event.type === 'prediction.submitting' ? { attempt: event.attempt, retry_at: null } : {},
    ),
    setPrediction: assign(({ event }) =>
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
    scheduleRetry: assign(({ context, event }) => {
      if (event.type !== 'prediction.error') return {};
      const n = context.auto_retries + 1;
      return {
        auto_retries: n,
        retry_at: addMs(event.at, retryDelayMs(n, event.retry_after_ms)),
        error: { code: event.code, message: event.message, step: 'api_call' as const, retryable: true },
      };
    }),
    setRecoveryError: assign(({ event }) => {
      if (event.type !== 'prediction.error') return {};
      const code = AUTO_RETRY_CODES.has(event.code) ? 'retries_exhausted' : event.code;
      return {
        error: { code, message: event.message, step: 'api_call' as const, retryable: true },
        retry_at: null,
      };
    }),
    setOutput: assign(({ context, event }) => {
      if (event.type !== 'prediction.succeeded' || !context.prediction) return {};
      const ms = Math.max(0, Date.parse(event.completed_at) - Date.parse(context.prediction.created_at));
      return {
        prediction: { ...context.prediction, status: 'succeeded', completed_at: event.completed_at },
        raw_response: event.raw,
        processed_response: event.processed,
        provider_ms: context.provider_ms + ms,
      };
    }),
    finishWithOutput: assign(({ context }) => ({ final_result: context.processed_response?.output ?? null })),
    finishWithEdit: assign(({ event }) =>
      event.type === 'review.edit' ? { final_result: event.edits.response } : {},
    ),
    failRun: assign(({ context, event }) => {
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
    rejectRun: assign(({ context, event }) => ({
      error: {
        code: 'rejected',
        message: 'reason' in event && event.reason ? event.reason : 'Rejected by a reviewer',
        step: stepOf(context),
        retryable: false,
      },
    })),
    expireRun: assign(({ context, event }) => ({
      approvals: closeApproval(context, 'expired', 'expired', event),
      error: {
        code: 'expired',
        message: 'The approval expired with no decision',
        step: stepOf(context),
        retryable: false,
      },
    })),
    cancelRun: assign(({ context, event }) => ({
      approvals: closeApproval(context, 'cancelled', 'cancelled', event),
      error: {
        code: 'cancelled',
        message: 'reason' in event && event.reason ? event.reason : 'Cancelled',
        step: stepOf(context),
        retryable: false,
      },
    })),
    pause: assign({ paused: true }),
    resume: assign({ paused: false }),
  },
}).createMachine({
  id: 'run',
  context: ({ input }) => initialContext(input),
  initial: 'created',
  on: {
    'run.cancelled': {
      target: '.cancelled',
      actions: 'cancelRun',
    },
    'run.paused': { guard: 'canPause', actions: 'pause' },
    'run.resumed': { guard: 'isPaused', actions: 'resume' },
    'run.recovered': {},
  },
  states: {
    created: {
      on: {
        'capabilities.reported': {
          target: 'information_review',
          actions: ['reportCapabilities', 'completeStep'],
        },
        ...onWorkFailure('capabilities'),
      },
    },
    information_review: {
      entry: { type: 'startStep', params: { step: 'information_review' } },
      initial: 'deciding',
      states: {
        deciding: {
          always: [
            { guard: and(['notPaused', 'stopsAtInformation']), target: 'awaitingReview' },
            { guard: 'notPaused', target: '#run.payload_review', actions: 'completeStep' },
          ],
        },
        awaitingReview: {
          tags: ['needsHuman'],
          entry: { type: 'openApproval', params: { checkpoint: 'information_review' } },
          on: {
            'review.approve': { guard: 'decisionValid', target: '#run.payload_review', actions: 'decide' },
            'review.edit': {
              guard: 'decisionValid',
              target: '#run.payload_review',
              actions: ['decide', 'applyInfoEdit'],
            },
            ...endsOnRejectOrExpiry,
          },
        },
      },
    },
    payload_review: {
      entry: { type: 'startStep', params: { step: 'payload_review' } },
      initial: 'building',
      states: {
        building: {
          on: {
            'payload.built': { target: 'deciding', actions: 'setPayload' },
            ...onWorkFailure('payload'),
          },
        },
        deciding: {
          always: [
            { guard: and(['notPaused', 'stopsAtPayload']), target: 'awaitingReview' },
            { guard: 'notPaused', target: '#run.api_call', actions: 'completeStep' },
          ],
        },
        awaitingReview: {
          tags: ['needsHuman'],
          entry: { type: 'openApproval', params: { checkpoint: 'payload_review' } },
          on: {
            'review.approve': { guard: 'decisionValid', target: '#run.api_call', actions: 'decide' },
            'review.edit': [
              {
                guard: and(['decisionValid', 'editLeavesNoErrors']),
                target: '#run.api_call',
                actions: ['decide', 'applyBuilt'],
              },
              {
                guard: 'decisionValid',
                target: 'awaitingReview',
                reenter: true,
                actions: ['decideAndStay', 'applyBuilt'],
              },
            ],
            ...endsOnRejectOrExpiry,
          },
        },
      },
    },
    api_call: {
      entry: { type: 'startStep', params: { step: 'api_call' } },
      initial: 'ready',
      states: {
        ready: {
          on: {
            'prediction.submitting': { guard: 'nextAttempt', target: 'submitting', actions: 'beginAttempt' },
          },
        },
        submitting: {
          on: {
            'prediction.created': { target: 'waiting', actions: 'setPrediction' },
            'prediction.error': [
              { guard: 'canAutoRetry', target: 'backoff', actions: 'scheduleRetry' },
              { target: 'recovering', actions: 'setRecoveryError' },
            ],
          },
        },
        backoff: {
          on: {
            'prediction.submitting': { guard: 'nextAttempt', target: 'submitting', actions: 'beginAttempt' },
          },
        },
        waiting: {
          on: {
            'prediction.succeeded': {
              guard: 'currentPrediction',
              target: '#run.response_review',
              actions: ['setOutput', 'completeStep'],
            },
            'prediction.failed': {
              guard: 'currentPrediction',
              target: '#run.failed',
              actions: 'failRun',
            },
            'prediction.error': { target: 'recovering', actions: 'setRecoveryError' },
          },
        },
        recovering: { always: { guard: 'notPaused', target: 'awaitingReview' } },
        awaitingReview: {
          tags: ['needsHuman'],
          entry: { type: 'openApproval', params: { checkpoint: 'error_recovery' } },
          on: {
            'review.retry': {
              guard: 'decisionValid',
              target: 'ready',
              actions: ['decideAndStay', 'applyBuilt', 'afterHumanRetry'],
            },
            'review.edit': [
              {
                guard: and(['decisionValid', 'editLeavesNoErrors']),
                target: 'ready',
                actions: ['decideAndStay', 'applyBuilt', 'afterHumanRetry'],
              },
              {
                guard: 'decisionValid',
                target: 'awaitingReview',
                reenter: true,
                actions: ['decideAndStay', 'applyBuilt'],
              },
            ],
            ...endsOnRejectOrExpiry,
          },
        },
      },
    },
    response_review: {
      entry: { type: 'startStep', params: { step: 'response_review' } },
      initial: 'deciding',
      states: {
        deciding: {
          always: [
            { guard: and(['notPaused', 'stopsAtResponse']), target: 'awaitingReview' },
            { guard: 'notPaused', target: '#run.completed', actions: ['completeStep', 'finishWithOutput'] },
          ],
        },
        awaitingReview: {
          tags: ['needsHuman'],
          entry: { type: 'openApproval', params: { checkpoint: 'response_review' } },
          on: {
            'review.approve': {
              guard: 'decisionValid',
              target: '#run.completed',
              actions: ['decide', 'finishWithOutput'],
            },
            'review.edit': {
              guard: 'decisionValid',
              target: '#run.completed',
              actions: ['decide', 'finishWithEdit'],
            },
            'review.retry': {
              guard: 'decisionValid',
              target: '#run.api_call',
              actions: ['decide', 'applyBuilt', 'afterHumanRetry'],
            },
            ...endsOnRejectOrExpiry,
          },
        },
      },
    },
    completed: {
      type: 'final',
      tags: ['terminal'],
      entry: { type: 'endRun', params: { step: 'completed', status: 'completed' } },
    },
    failed: {
      type: 'final',
      tags: ['terminal'],
      entry: { type: 'endRun', params: { step: 'failed', status: 'failed' } },
    },
    cancelled: {
      type: 'final',
      tags: ['terminal'],
      entry: { type: 'endRun', params: { step: 'cancelled', status: 'cancelled' } },
    },
    expired: {
      type: 'final',
      tags: ['terminal'],
      entry: { type: 'endRun', params: { step: 'expired', status: 'expired' } },
    },
  },
});

export type RunMachine = typeof runMachine;
