import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../machines/run-events.ts';
import { currentStep, runStatus } from '../../machines/run-state.ts';
import { timersFor } from '../../machines/run-work.ts';
import type { HitlConfig } from '../../machines/schemas.ts';
import { built, createRun, issue, type Run, walkTo, where } from '../support/run-events.ts';

/** What the host sends when a deadline fires, for each `on_timeout` (SPEC §2.4). */
function timeoutEvent(run: Run): RunEvent {
  const open = run.context.approvals.at(-1);
  if (open?.status !== 'pending') throw new Error('no open approval');
  const actor = 'system:timeout';
  const onTimeout: HitlConfig['on_timeout'] = run.context.config.on_timeout;
  if (onTimeout === 'reject') return run.ev.reject(open.approval_id, { actor });
  if (onTimeout === 'approve' && open.actions.includes('approve'))
    return run.ev.approve(open.approval_id, { actor });
  return run.ev.expired(open.approval_id);
}

type OnTimeout = HitlConfig['on_timeout'];

interface Checkpoint {
  name: string;
  reach: (onTimeout: OnTimeout) => Run;
  /** Where an approve by timeout continues, or null when approve is not offered (it expires instead). */
  approvedTo: string | null;
}

const checkpoints: Checkpoint[] = [
  {
    name: 'information_review',
    reach: (on_timeout) => {
      const run = createRun({ policy: 'require_human', on_timeout });
      walkTo(run, 'information_review.awaitingReview');
      return run;
    },
    approvedTo: 'payload_review.building',
  },
  {
    name: 'payload_review',
    reach: (on_timeout) => {
      const run = createRun({ policy: 'require_human', allowed_steps: ['payload_review'], on_timeout });
      walkTo(run, 'payload_review.awaitingReview');
      return run;
    },
    approvedTo: 'api_call.ready',
  },
  {
    name: 'payload_review with an error issue',
    reach: (on_timeout) => {
      const run = createRun({ policy: 'auto', on_timeout });
      run.accept(run.ev.capabilities(), run.ev.built(built({ prompt: '' }, [issue('error')])));
      return run;
    },
    approvedTo: null,
  },
  {
    name: 'error_recovery',
    reach: (on_timeout) => {
      const run = createRun({ policy: 'auto', on_timeout });
      walkTo(run, 'api_call.awaitingReview');
      return run;
    },
    approvedTo: null,
  },
  {
    name: 'response_review',
    reach: (on_timeout) => {
      const run = createRun({ policy: 'require_human', allowed_steps: ['response_review'], on_timeout });
      walkTo(run, 'response_review.awaitingReview');
      return run;
    },
    approvedTo: 'completed',
  },
];

function expectExpired(run: Run, id: string, step: string) {
  expect(runStatus(run.snapshot)).toBe('expired');
  expect(run.context.approvals.at(-1)).toMatchObject({
    approval_id: id,
    status: 'expired',
    decision: { action: 'expired', actor: 'system:timeout' },
  });
  expect(run.context.error).toMatchObject({ code: 'expired', step });
  expect(run.context.step_history.at(-2)).toMatchObject({ step, status: 'expired', approval_id: id });
  expect(timersFor(run.snapshot)).toEqual([]);
}

describe('on_timeout at every checkpoint', () => {
  for (const cp of checkpoints) {
    it(`expire at ${cp.name} ends the run expired with the approval expired`, () => {
      const run = cp.reach('expire');
      const id = run.openId;
      const step = currentStep(run.snapshot);
      const event = timeoutEvent(run);
      expect(event.type).toBe('approval.expired');
      run.accept(event);
      expectExpired(run, id, step);
    });

    it(`reject at ${cp.name} cancels the run as a rejection by system:timeout`, () => {
      const run = cp.reach('reject');
      const id = run.openId;
      run.accept(timeoutEvent(run));
      expect(runStatus(run.snapshot)).toBe('cancelled');
      expect(run.context.error?.code).toBe('rejected');
      expect(run.context.approvals.at(-1)).toMatchObject({
        approval_id: id,
        status: 'rejected',
        decision: { action: 'reject', actor: 'system:timeout' },
      });
      expect(run.facts.at(-1)?.type).toBe('run.cancelled');
    });

    if (cp.approvedTo) {
      const to = cp.approvedTo;
      it(`approve at ${cp.name} continues to ${to} as a decision by system:timeout`, () => {
        const run = cp.reach('approve');
        const id = run.openId;
        const step = currentStep(run.snapshot);
        const event = timeoutEvent(run);
        expect(event.type).toBe('review.approve');
        run.accept(event);
        expect(where(run.snapshot)).toBe(to);
        const approval = run.context.approvals.find((a) => a.approval_id === id);
        expect(approval).toMatchObject({
          status: 'approved',
          decision: { action: 'approve', actor: 'system:timeout' },
        });
        expect(run.context.step_history.find((e) => e.approval_id === id)).toMatchObject({
          step,
          status: 'approved',
          actor: 'system:timeout',
        });
      });
    } else {
      it(`approve at ${cp.name}, where approve is not offered, expires the run instead`, () => {
        const run = cp.reach('approve');
        const id = run.openId;
        const step = currentStep(run.snapshot);
        expect(run.send(run.ev.approve(id, { actor: 'system:timeout' }))).toBe('invalid_action');
        const event = timeoutEvent(run);
        expect(event.type).toBe('approval.expired');
        run.accept(event);
        expectExpired(run, id, step);
      });
    }
  }
});

describe('a timeout for an approval that is no longer open', () => {
  it('is refused with approval_not_pending once the approval was decided', () => {
    const run = createRun({ policy: 'require_human' });
    walkTo(run, 'information_review.awaitingReview');
    const id = run.openId;
    run.accept(run.ev.approve(id), run.ev.built());
    const before = run.persisted();
    expect(run.send(run.ev.expired(id))).toBe('approval_not_pending');
    expect(run.send(run.ev.reject(id, { actor: 'system:timeout' }))).toBe('approval_not_pending');
    expect(run.persisted()).toEqual(before);
    expect(runStatus(run.snapshot)).toBe('awaiting_human');
  });

  it('is refused with approval_not_pending after the checkpoint re-opened under a new approval', () => {
    const run = createRun({ policy: 'auto' });
    run.accept(run.ev.capabilities(), run.ev.built(built({ prompt: '' }, [issue('error')])));
    const old = run.openId;
    run.accept(
      run.ev.edit(old, { payload: { prompt: '' } }, { built: built({ prompt: '' }, [issue('error')]) }),
    );
    expect(run.send(run.ev.expired(old))).toBe('approval_not_pending');
    expect(run.context.approvals.at(-1)?.status).toBe('pending');
  });

  it('is refused with run_terminal once the run has ended', () => {
    const run = createRun({ policy: 'require_human' });
    walkTo(run, 'information_review.awaitingReview');
    const id = run.openId;
    run.accept(run.ev.reject(id));
    expect(run.send(run.ev.expired(id))).toBe('run_terminal');
  });
});
