import { describe, expect, it } from 'vitest';
import { currentStep, runStatus } from '../../machines/run-state.ts';
import { timersFor, workFor } from '../../machines/run-work.ts';
import { createRun, plus, processed, type Run, type Stop, walkTo, where } from '../support/run-events.ts';

/** Pause, resume and cancel (SPEC §2.5). */

const RUNNING: Array<'created' | Stop> = [
  'created',
  'payload_review.building',
  'api_call.ready',
  'api_call.submitting',
  'api_call.waiting',
  'api_call.backoff',
];
const CHECKPOINTS: Stop[] = [
  'information_review.awaitingReview',
  'payload_review.awaitingReview',
  'api_call.awaitingReview',
  'response_review.awaitingReview',
];

function at(state: 'created' | Stop, config = {}): Run {
  const run = createRun({ policy: 'require_human', ...config });
  if (state !== 'created') walkTo(run, state);
  return run;
}

describe('pause', () => {
  for (const state of RUNNING) {
    it(`is allowed at ${state}, stops the work and keeps the state`, () => {
      const run = at(state);
      expect(['queued', 'running']).toContain(runStatus(run.snapshot));
      run.accept(run.ev.paused());
      expect(runStatus(run.snapshot)).toBe('paused');
      expect(where(run.snapshot)).toBe(state);
      expect(workFor(run.snapshot)).toBeNull();
      expect(timersFor(run.snapshot).filter((t) => t.kind !== 'poll')).toEqual([]);
    });
  }

  for (const state of CHECKPOINTS) {
    it(`is refused with invalid_transition while awaiting a human at ${state}`, () => {
      const run = at(state);
      expect(run.send(run.ev.paused())).toBe('invalid_transition');
      expect(runStatus(run.snapshot)).toBe('awaiting_human');
    });
  }

  it('is refused with invalid_transition when the run is already paused', () => {
    const run = at('created');
    run.accept(run.ev.paused());
    expect(run.send(run.ev.paused())).toBe('invalid_transition');
  });

  it('keeps polling a prediction while paused, so its result is logged', () => {
    const run = at('api_call.waiting');
    run.accept(run.ev.paused());
    expect(timersFor(run.snapshot).map((t) => t.kind)).toEqual(['poll']);
  });

  it('holds back the automatic retry while paused and brings it back on resume', () => {
    const run = at('api_call.backoff');
    const retryAt = run.context.retry_at;
    run.accept(run.ev.paused());
    expect(timersFor(run.snapshot)).toEqual([]);
    expect(run.send(run.ev.submitting(2))).toBe('invalid_transition');
    run.accept(run.ev.resumed());
    expect(timersFor(run.snapshot)).toEqual([{ kind: 'retry', key: '2', fire_at: retryAt }]);
    run.accept(run.ev.submitting(2));
    expect(where(run.snapshot)).toBe('api_call.submitting');
  });
});

describe('resume', () => {
  it('is refused with invalid_transition when the run is not paused', () => {
    expect(at('created').send(at('created').ev.resumed())).toBe('invalid_transition');
    const waiting = at('information_review.awaitingReview');
    expect(waiting.send(waiting.ev.resumed())).toBe('invalid_transition');
  });

  it('continues where the run stopped, with its work', () => {
    const run = at('api_call.ready');
    run.accept(run.ev.paused());
    expect(run.send(run.ev.submitting(1))).toBe('invalid_transition');
    run.accept(run.ev.resumed());
    expect(runStatus(run.snapshot)).toBe('running');
    expect(workFor(run.snapshot)).toEqual({ type: 'start_submission', attempt: 1 });
    run.accept(run.ev.submitting(1));
  });

  it('moves on to the next step when the result that arrived while paused needs no human', () => {
    const run = createRun({ policy: 'auto' });
    run.accept(run.ev.paused(), run.ev.capabilities());
    expect(currentStep(run.snapshot)).toBe('information_review');
    run.accept(run.ev.resumed());
    expect(where(run.snapshot)).toBe('payload_review.building');
    expect(workFor(run.snapshot)).toEqual({ type: 'build_payload' });
  });
});

/** A result arriving while paused: accepted and logged, no checkpoint until resume. */
const results: Array<[string, Stop | 'created', (run: Run) => void, string]> = [
  ['capabilities.reported', 'created', (run) => run.accept(run.ev.capabilities()), 'information_review'],
  ['payload.built', 'payload_review.building', (run) => run.accept(run.ev.built()), 'payload_review'],
  [
    'prediction.succeeded',
    'api_call.waiting',
    (run) => run.accept(run.ev.succeeded(run.context.prediction?.id, processed())),
    'response_review',
  ],
  [
    'prediction.error',
    'api_call.submitting',
    (run) => run.accept(run.ev.error('provider_error')),
    'error_recovery',
  ],
];

describe('a result that arrives while paused', () => {
  for (const [type, state, deliver, checkpoint] of results) {
    it(`${type} is logged but opens no ${checkpoint} approval until resume, which gives a fresh expires_at`, () => {
      const run = at(state, { timeout_seconds: 600 });
      const approvals = run.context.approvals.length;
      run.accept(run.ev.paused());
      deliver(run);
      expect(run.rows.at(-1)?.type).toBe(type);
      expect(runStatus(run.snapshot)).toBe('paused');
      expect(run.context.approvals).toHaveLength(approvals);
      expect(run.facts.filter((f) => f.type === 'approval.opened')).toHaveLength(approvals);
      expect(workFor(run.snapshot)).toBeNull();
      expect(timersFor(run.snapshot)).toEqual([]);

      const resume = run.ev.resumed();
      run.accept(resume);
      const opened = run.context.approvals.at(-1);
      expect(runStatus(run.snapshot)).toBe('awaiting_human');
      expect(opened).toMatchObject({
        approval_id: resume.id,
        checkpoint_type: checkpoint,
        status: 'pending',
        created_at: resume.at,
        expires_at: plus(resume.at, 600),
      });
      expect(timersFor(run.snapshot)).toEqual([
        { kind: 'deadline', key: resume.id, fire_at: plus(resume.at, 600) },
      ]);
    });
  }
});

/** Every non-terminal state the run can wait in, paused ones included. */
const LIVE: Array<[string, (run: Run) => void]> = [
  ['created', () => {}],
  ...[...CHECKPOINTS, ...RUNNING.filter((s) => s !== 'created')].map((s): [string, (run: Run) => void] => [
    s,
    (run) => void walkTo(run, s as Stop),
  ]),
  ['paused at created', (run) => run.accept(run.ev.paused())],
  ...results.map(([type, state, deliver, checkpoint]): [string, (run: Run) => void] => [
    `paused before ${checkpoint} (${type} arrived)`,
    (run) => {
      if (state !== 'created') walkTo(run, state);
      run.accept(run.ev.paused());
      deliver(run);
    },
  ]),
  [
    'paused at api_call.waiting',
    (run) => {
      walkTo(run, 'api_call.waiting');
      run.accept(run.ev.paused());
    },
  ],
];

describe('cancel', () => {
  for (const [name, reach] of LIVE) {
    it(`ends a run ${name} as cancelled and cancels its open approval`, () => {
      const run = createRun({ policy: 'require_human' });
      reach(run);
      const open = run.context.approvals.at(-1);
      const pending = open?.status === 'pending' ? open.approval_id : null;
      run.accept(run.ev.cancelled('no longer needed'));
      expect(runStatus(run.snapshot)).toBe('cancelled');
      expect(currentStep(run.snapshot)).toBe('cancelled');
      expect(run.context.error).toMatchObject({ code: 'cancelled', message: 'no longer needed' });
      if (pending) {
        expect(run.context.approvals.at(-1)).toMatchObject({
          approval_id: pending,
          status: 'cancelled',
          decision: { action: 'cancelled', actor: 'service:abcd1234' },
        });
      }
      expect(run.context.approvals.some((a) => a.status === 'pending')).toBe(false);
      expect(workFor(run.snapshot)).toBeNull();
      expect(timersFor(run.snapshot)).toEqual([]);
      expect(run.context.step_history.at(-1)).toMatchObject({ step: 'cancelled', status: 'cancelled' });
    });
  }
});
