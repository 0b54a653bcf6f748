import { and, setup } from 'xstate';
import { initialContext, runActions } from './run-actions.ts';
import type { RunContext } from './run-context.ts';
import type { ProviderWork, RunCreated, RunEvent } from './run-events.ts';
import { runGuards } from './run-guards.ts';

/**
 * Bumped whenever a stored snapshot of an older machine could not be continued by this one
 * (runs stored by another version are rebuilt by replaying their events). 2: provider steps
 * back off and give up (`work_failures`, `work_retry_at`).
 */
export const RUN_MACHINE_VERSION = 2;

/**
 * What a state asks of the host, read by run-work.ts (never by comparing state names). Meta is
 * part of the definition, not of the persisted snapshot: changing it needs no version bump.
 */
export interface RunStateMeta {
  /** In-process work the host runs while the run is in this state. */
  work?: 'report_capabilities' | 'build_payload' | 'start_submission' | 'submit';
  /** The provider step this state runs: its failures back off on a durable `step_retry` timer. */
  provider_work?: ProviderWork;
  /** What the state waits for: its automatic retry's time, or the prediction (which is polled). */
  waits_for?: 'retry' | 'prediction';
}

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

/** A checkpoint's decision point: stop for a human when `stop` holds, else go on to `next` (never while paused). */
const stopIf = <const G, const T extends string, const A>(stop: G, next: T, actions: A) =>
  ({
    always: [
      { guard: stop, target: 'awaitingReview' },
      { guard: 'notPaused', target: next, actions },
    ],
  }) as const;

/** A payload edit goes on to `target` when it leaves no errors; else the checkpoint opens again. */
const editPayloadThen = <const T extends string, const A>(target: T, actions: A) =>
  [
    { guard: and(['decisionValid', 'editLeavesNoErrors']), target, actions },
    {
      guard: 'decisionValid',
      target: 'awaitingReview',
      reenter: true,
      actions: ['decideAndStay', 'applyBuilt'],
    },
  ] as const;

/** Ready (or done backing off): the next attempt is logged, then submitted. */
const submitsNextAttempt = {
  'prediction.submitting': { guard: 'nextAttempt', target: 'submitting', actions: 'beginAttempt' },
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
    meta: RunStateMeta;
  },
  guards: runGuards,
  actions: runActions,
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
      meta: { work: 'report_capabilities', provider_work: 'capabilities' },
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
        deciding: stopIf(and(['notPaused', 'stopsAtInformation']), '#run.payload_review', 'completeStep'),
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
          meta: { work: 'build_payload', provider_work: 'payload' },
          on: {
            'payload.built': { target: 'deciding', actions: 'setPayload' },
            ...onWorkFailure('payload'),
          },
        },
        deciding: stopIf(and(['notPaused', 'stopsAtPayload']), '#run.api_call', 'completeStep'),
        awaitingReview: {
          tags: ['needsHuman'],
          entry: { type: 'openApproval', params: { checkpoint: 'payload_review' } },
          on: {
            'review.approve': { guard: 'decisionValid', target: '#run.api_call', actions: 'decide' },
            'review.edit': editPayloadThen('#run.api_call', ['decide', 'applyBuilt']),
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
          meta: { work: 'start_submission' },
          on: submitsNextAttempt,
        },
        submitting: {
          meta: { work: 'submit' },
          on: {
            'prediction.created': { target: 'waiting', actions: 'setPrediction' },
            'prediction.error': [
              { guard: 'canAutoRetry', target: 'backoff', actions: 'scheduleRetry' },
              { target: 'recovering', actions: 'setRecoveryError' },
            ],
          },
        },
        backoff: {
          meta: { waits_for: 'retry' },
          on: submitsNextAttempt,
        },
        waiting: {
          meta: { waits_for: 'prediction' },
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
            'review.edit': editPayloadThen('ready', ['decideAndStay', 'applyBuilt', 'afterHumanRetry']),
            ...endsOnRejectOrExpiry,
          },
        },
      },
    },
    response_review: {
      entry: { type: 'startStep', params: { step: 'response_review' } },
      initial: 'deciding',
      states: {
        deciding: stopIf(and(['notPaused', 'stopsAtResponse']), '#run.completed', [
          'completeStep',
          'finishWithOutput',
        ]),
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
