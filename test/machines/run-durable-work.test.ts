import { describe, expect, it } from 'vitest';
import { replay } from '../../machines/run-replay.ts';
import { runStatus } from '../../machines/run-state.ts';
import { cancelsFor, timersFor, workFor } from '../../machines/run-work.ts';
import { createRun, walkTo, where } from '../support/run-events.ts';

/** Issue 12: provider steps back off and give up; a prediction the run stops waiting for is cancelled. */

describe('a provider step that keeps failing', () => {
  it('capabilities: backs off 1 s, 2 s, 4 s (durable step_retry timers), then fails the run with provider_unavailable', () => {
    const run = createRun({ policy: 'auto', max_retries: 3 });
    const { ev } = run;
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      if (attempt > 1) {
        run.accept(ev.providerRetrying('capabilities', attempt));
        expect(workFor(run.snapshot)).toEqual({ type: 'report_capabilities' });
        expect(timersFor(run.snapshot)).toEqual([]);
      }
      const failed = ev.providerFailed('capabilities', attempt);
      run.accept(failed);
      expect(where(run.snapshot)).toBe('created');
      // Backing off is waiting for a timer, not work a node holds: no lease, no takeover.
      expect(workFor(run.snapshot)).toBeNull();
      const retryAt = run.context.work_retry_at ?? '';
      delays.push(Date.parse(retryAt) - Date.parse(failed.at));
      expect(timersFor(run.snapshot)).toEqual([
        { kind: 'step_retry', key: `capabilities:${attempt + 1}`, fire_at: retryAt },
      ]);
    }
    expect(delays).toEqual([1000, 2000, 4000]);
    run.accept(ev.providerRetrying('capabilities', 4), ev.providerFailed('capabilities', 4));
    expect(runStatus(run.snapshot)).toBe('failed');
    expect(run.context.error).toEqual({
      code: 'provider_unavailable',
      message: 'Reporting capabilities failed 4 time(s); last error: Replicate answered 503 (4)',
      step: 'information_review',
      retryable: false,
    });
    expect(timersFor(run.snapshot)).toEqual([]);
    expect(run.facts.map((f) => f.type)).toEqual(['run.failed']);
    // The log replays to the same state: the count lives in the events, not in a node.
    expect(JSON.stringify(replay(run.rows).context)).toBe(JSON.stringify(run.context));
  });

  it('payload: with max_retries 0 the first failure fails the run, naming payload_review', () => {
    const run = createRun({ policy: 'auto', max_retries: 0 });
    walkTo(run, 'payload_review.building');
    run.accept(run.ev.providerFailed('payload', 1));
    expect(runStatus(run.snapshot)).toBe('failed');
    expect(run.context.error).toMatchObject({ code: 'provider_unavailable', step: 'payload_review' });
  });

  it('a success resets the count for the next step', () => {
    const run = createRun({ policy: 'auto', max_retries: 1 });
    const { ev } = run;
    run.accept(
      ev.providerFailed('capabilities', 1),
      ev.providerRetrying('capabilities', 2),
      ev.capabilities(),
    );
    expect(run.context.work_failures).toBe(0);
    expect(where(run.snapshot)).toBe('payload_review.building');
    run.accept(ev.providerFailed('payload', 1));
    expect(where(run.snapshot)).toBe('payload_review.building');
  });

  it('duplicate or early reports change nothing: a second failure of the same attempt, a retry before its failure', () => {
    const run = createRun({ policy: 'auto' });
    const { ev } = run;
    expect(run.send(ev.providerRetrying('capabilities', 1))).toBe('invalid_transition');
    run.accept(ev.providerFailed('capabilities', 1));
    expect(run.send(ev.providerFailed('capabilities', 1))).toBe('invalid_transition');
    expect(run.send(ev.providerFailed('payload', 2))).toBe('invalid_transition');
    expect(run.send(ev.providerRetrying('capabilities', 3))).toBe('invalid_transition');
    expect(run.context.work_failures).toBe(1);
  });

  it('a paused run keeps its count but sets no retry timer until it resumes', () => {
    const run = createRun({ policy: 'auto' });
    const { ev } = run;
    run.accept(ev.providerFailed('capabilities', 1), ev.paused());
    expect(timersFor(run.snapshot)).toEqual([]);
    run.accept(ev.resumed());
    expect(timersFor(run.snapshot)).toEqual([
      { kind: 'step_retry', key: 'capabilities:2', fire_at: run.context.work_retry_at },
    ]);
  });
});

describe('cancelling a prediction the run no longer waits for', () => {
  it('cancel while the prediction runs asks for exactly one cancel of it', () => {
    const run = createRun({ policy: 'auto' });
    const waiting = walkTo(run, 'api_call.waiting');
    const cancel = run.ev.cancelled();
    const done = run.accept(cancel);
    expect(cancelsFor(waiting, done, cancel.at)).toEqual([
      { kind: 'cancel', key: 'pred-1', fire_at: cancel.at },
    ]);
    expect(timersFor(done)).toEqual([]);
  });

  it('an expired prediction_timeout_seconds asks for its cancel; the reject that follows asks for none', () => {
    const run = createRun({ policy: 'auto' });
    const waiting = walkTo(run, 'api_call.waiting');
    const timeout = run.ev.error('prediction_timeout');
    const recovering = run.accept(timeout);
    expect(cancelsFor(waiting, recovering, timeout.at)).toEqual([
      { kind: 'cancel', key: 'pred-1', fire_at: timeout.at },
    ]);
    const rejected = run.accept(run.ev.reject(run.openId));
    expect(runStatus(rejected)).toBe('cancelled');
    expect(cancelsFor(recovering, rejected, timeout.at)).toEqual([]);
  });

  it('nothing to cancel when the prediction finished, or before one exists', () => {
    const run = createRun({ policy: 'require_human', allowed_steps: ['response_review'] });
    const review = walkTo(run, 'response_review.awaitingReview');
    expect(cancelsFor(review, run.accept(run.ev.cancelled()), run.ev.now())).toEqual([]);
    const early = createRun({ policy: 'auto' });
    const submitting = walkTo(early, 'api_call.submitting');
    expect(cancelsFor(submitting, early.accept(early.ev.cancelled()), early.ev.now())).toEqual([]);
  });
});
