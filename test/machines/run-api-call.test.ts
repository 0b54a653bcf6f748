import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../machines/run-events.ts';
import { runStatus } from '../../machines/run-state.ts';
import { timersFor, workFor } from '../../machines/run-work.ts';
import { createRun, plus, walkTo, where } from '../support/run-events.ts';

/** The api_call step: submission attempts, automatic retries, error_recovery, provider outcomes (SPEC §2.2 3). */

const atReady = (max_retries = 3) => {
  const run = createRun({ policy: 'auto', max_retries });
  walkTo(run, 'api_call.ready');
  return run;
};

describe('automatic retries', () => {
  for (const code of ['rate_limited', 'connection_refused'] as const) {
    it(`${code} is retried up to max_retries with growing backoff, then opens error_recovery as retries_exhausted`, () => {
      const run = atReady(3);
      const { ev } = run;
      const delays: number[] = [];
      for (let attempt = 1; attempt <= 3; attempt++) {
        // The first attempt is work to do now; later ones wait for the retry timer.
        if (attempt === 1) expect(workFor(run.snapshot)).toEqual({ type: 'start_submission', attempt });
        run.accept(ev.submitting(attempt));
        expect(workFor(run.snapshot)).toEqual({ type: 'submit', attempt });
        const error = ev.error(code);
        run.accept(error);
        expect(where(run.snapshot)).toBe('api_call.backoff');
        expect(workFor(run.snapshot)).toBeNull();
        const retryAt = run.context.retry_at ?? '';
        delays.push(Date.parse(retryAt) - Date.parse(error.at));
        expect(timersFor(run.snapshot)).toEqual([
          { kind: 'retry', key: String(attempt + 1), fire_at: retryAt },
        ]);
        expect(run.context.error).toMatchObject({ code, retryable: true });
      }
      expect(delays).toEqual([1000, 2000, 4000]);
      run.accept(ev.submitting(4), ev.error(code));
      expect(where(run.snapshot)).toBe('api_call.awaitingReview');
      expect(run.context.error).toMatchObject({ code: 'retries_exhausted', step: 'api_call' });
      expect(run.context.retry_at).toBeNull();
      expect(run.context.approvals.at(-1)?.checkpoint_type).toBe('error_recovery');
    });
  }

  it('waits at least as long as Retry-After asks', () => {
    const run = atReady();
    run.accept(run.ev.submitting(1));
    const error = run.ev.error('rate_limited', 15_000);
    run.accept(error);
    expect(run.context.retry_at).toBe(plus(error.at, 15));
  });

  it('with max_retries 0 a 429 goes straight to error_recovery', () => {
    const run = atReady(0);
    run.accept(run.ev.submitting(1), run.ev.error('rate_limited'));
    expect(where(run.snapshot)).toBe('api_call.awaitingReview');
    expect(run.context.error?.code).toBe('retries_exhausted');
  });

  it('a human retry after exhausted retries gives the submission its automatic retries back', () => {
    const run = atReady(1);
    const { ev } = run;
    run.accept(ev.submitting(1), ev.error('rate_limited'), ev.submitting(2), ev.error('rate_limited'));
    run.accept(ev.retry(run.openId), ev.submitting(3), ev.error('rate_limited'));
    expect(where(run.snapshot)).toBe('api_call.backoff');
  });
});

describe('errors that need a human', () => {
  for (const code of ['model_validation_error', 'submission_outcome_unknown', 'provider_error'] as const) {
    it(`${code} on submit opens error_recovery with that code`, () => {
      const run = atReady();
      run.accept(run.ev.submitting(1), run.ev.error(code, 30_000));
      expect(where(run.snapshot)).toBe('api_call.awaitingReview');
      expect(runStatus(run.snapshot)).toBe('awaiting_human');
      expect(run.context.error).toMatchObject({ code, step: 'api_call', retryable: true });
      expect(run.context.auto_retries).toBe(0);
    });
  }

  it('prediction_timeout while waiting for the output opens error_recovery', () => {
    const run = atReady();
    run.accept(run.ev.submitting(1), run.ev.created('p1'), run.ev.error('prediction_timeout'));
    expect(where(run.snapshot)).toBe('api_call.awaitingReview');
    expect(run.context.error?.code).toBe('prediction_timeout');
    expect(run.send(run.ev.succeeded('p1'))).toBe('invalid_transition');
  });
});

describe('provider outcomes', () => {
  for (const status of ['failed', 'canceled'] as const) {
    it(`a prediction that ends ${status} fails the run`, () => {
      const run = atReady();
      run.accept(run.ev.submitting(1), run.ev.created('p1'), run.ev.failed('p1', status));
      expect(runStatus(run.snapshot)).toBe('failed');
      expect(run.context.prediction?.status).toBe(status);
      expect(run.context.error).toMatchObject({
        code: `prediction_${status}`,
        step: 'api_call',
        retryable: false,
      });
      expect(run.context.approvals).toEqual([]);
      expect(run.facts.map((f) => f.type)).toEqual(['run.failed']);
    });
  }

  it('records the prediction as soon as it is created and its output when it succeeds', () => {
    const run = atReady();
    run.accept(run.ev.submitting(1));
    const created = run.ev.created('p1');
    run.accept(created);
    expect(where(run.snapshot)).toBe('api_call.waiting');
    expect(run.context.prediction).toEqual({
      id: 'p1',
      status: 'starting',
      created_at: created.at,
      completed_at: null,
    });
    expect(timersFor(run.snapshot)).toEqual([{ kind: 'poll', key: 'p1', fire_at: created.at }]);
    const done = run.ev.succeeded('p1');
    run.accept(done);
    expect(run.context.prediction).toMatchObject({ status: 'succeeded', completed_at: done.completed_at });
    expect(run.context.raw_response).toEqual({ id: 'p1' });
    expect(run.context.provider_ms).toBe(1000);
    expect(runStatus(run.snapshot)).toBe('completed');
  });
});

describe('refused provider events', () => {
  const cases: Array<[string, (ev: ReturnType<typeof atReady>['ev']) => RunEvent[], RunEvent['type']]> = [
    ['a first submission numbered 2', (ev) => [ev.submitting(2)], 'prediction.submitting'],
    [
      'the same attempt number twice',
      (ev) => [ev.submitting(1), ev.error('rate_limited'), ev.submitting(1)],
      'prediction.submitting',
    ],
    [
      'a skipped attempt number',
      (ev) => [ev.submitting(1), ev.error('rate_limited'), ev.submitting(3)],
      'prediction.submitting',
    ],
    ['a prediction id before anything was submitted', (ev) => [ev.created('p1')], 'prediction.created'],
    [
      'an output for another prediction',
      (ev) => [ev.submitting(1), ev.created('p1'), ev.succeeded('p0')],
      'prediction.succeeded',
    ],
    [
      'a failure of another prediction',
      (ev) => [ev.submitting(1), ev.created('p1'), ev.failed('p0')],
      'prediction.failed',
    ],
    [
      'an output while still submitting',
      (ev) => [ev.submitting(1), ev.succeeded('p1')],
      'prediction.succeeded',
    ],
  ];
  for (const [what, events, type] of cases) {
    it(`refuses ${what} with invalid_transition and changes nothing`, () => {
      const run = atReady();
      const all = events(run.ev);
      const last = all.pop();
      if (!last) throw new Error('no event');
      run.accept(...all);
      const before = run.persisted();
      expect(last.type).toBe(type);
      expect(run.send(last)).toBe('invalid_transition');
      expect(run.persisted()).toEqual(before);
    });
  }
});
