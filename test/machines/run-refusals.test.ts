import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../machines/run-events.ts';
import { refusal, runStatus } from '../../machines/run-state.ts';
import { built, createRun, issue, type Run, uuid, walkTo, where } from '../support/run-events.ts';

/** Decisions on approvals that are not open, and events after the end (SPEC §2.4, §3 precedence). */

describe('stale approvals', () => {
  it('refuses the same decision sent twice (a double click) with approval_not_pending', () => {
    const run = createRun({ policy: 'require_human' });
    walkTo(run, 'information_review.awaitingReview');
    const id = run.openId;
    run.accept(run.ev.approve(id));
    const after = run.persisted();
    expect(run.send(run.ev.approve(id))).toBe('approval_not_pending');
    expect(run.persisted()).toEqual(after);
  });

  it('refuses a second, different decision on an answered approval even once the next one is open', () => {
    const run = createRun({ policy: 'require_human' });
    walkTo(run, 'information_review.awaitingReview');
    const id = run.openId;
    run.accept(run.ev.approve(id), run.ev.built());
    expect(where(run.snapshot)).toBe('payload_review.awaitingReview');
    expect(run.send(run.ev.reject(id))).toBe('approval_not_pending');
    expect(where(run.snapshot)).toBe('payload_review.awaitingReview');
  });

  it("refuses a previous approval's id after the checkpoint re-opened under a new one", () => {
    const run = createRun({ policy: 'auto' });
    run.accept(run.ev.capabilities(), run.ev.built(built({ prompt: '' }, [issue('error')])));
    const old = run.openId;
    run.accept(
      run.ev.edit(old, { payload: { prompt: '' } }, { built: built({ prompt: '' }, [issue('error')]) }),
    );
    const current = run.openId;
    expect(current).not.toBe(old);
    const before = run.persisted();
    expect(run.send(run.ev.edit(old, { payload: { prompt: 'a cat' } }, { built: built() }))).toBe(
      'approval_not_pending',
    );
    expect(run.send(run.ev.reject(old))).toBe('approval_not_pending');
    expect(run.persisted()).toEqual(before);
    run.accept(run.ev.edit(current, { payload: { prompt: 'a cat' } }, { built: built() }));
    expect(where(run.snapshot)).toBe('api_call.ready');
  });

  it('refuses an id that never belonged to the run', () => {
    const run = createRun({ policy: 'require_human' });
    walkTo(run, 'payload_review.awaitingReview');
    expect(run.send(run.ev.approve(uuid(999)))).toBe('approval_not_pending');
  });

  it('refuses a decision while no checkpoint is open', () => {
    const run = createRun({ policy: 'auto' });
    walkTo(run, 'api_call.waiting');
    expect(run.send(run.ev.approve(uuid(999)))).toBe('approval_not_pending');
  });

  it('checks the approval before the action, and the action before the edits', () => {
    const run = createRun({ policy: 'require_human' });
    walkTo(run, 'information_review.awaitingReview');
    expect(run.send(run.ev.retry(uuid(999), { edits: { nonsense: 1 } }))).toBe('approval_not_pending');
    expect(run.send(run.ev.retry(run.openId, { edits: { nonsense: 1 } }))).toBe('invalid_action');
    expect(run.send(run.ev.edit(run.openId, { nonsense: 1 }))).toBe('invalid_edits');
  });
});

/** A run ended in each terminal status. */
const endings: Array<[string, (run: Run) => void]> = [
  ['completed', (run) => walkTo(run, 'completed')],
  [
    'failed',
    (run) => {
      walkTo(run, 'api_call.waiting');
      run.accept(run.ev.failed(run.context.prediction?.id));
    },
  ],
  ['cancelled', (run) => run.accept(run.ev.cancelled())],
  [
    'expired',
    (run) => {
      walkTo(run, 'information_review.awaitingReview');
      run.accept(run.ev.expired(run.openId));
    },
  ],
];

describe('terminal runs', () => {
  for (const [status, end] of endings) {
    it(`a ${status} run refuses every further event with run_terminal`, () => {
      const run = createRun({ policy: 'require_human' });
      end(run);
      expect(runStatus(run.snapshot)).toBe(status);
      const last = run.context.approvals.at(-1)?.approval_id ?? uuid(999);
      const { ev } = run;
      const later: RunEvent[] = [
        ev.approve(last),
        ev.reject(last),
        ev.expired(last),
        ev.cancelled(),
        ev.paused(),
        ev.resumed(),
        ev.recovered(),
        ev.capabilities(),
        ev.built(),
        ev.submitting(run.context.attempt + 1),
        ev.succeeded(run.context.prediction?.id),
        ev.error('rate_limited'),
      ];
      const before = run.persisted();
      for (const event of later) expect(run.send(event), event.type).toBe('run_terminal');
      expect(run.persisted()).toEqual(before);
    });
  }
});

describe('run.recovered', () => {
  const states = [
    'created',
    'information_review.awaitingReview',
    'payload_review.building',
    'api_call.submitting',
    'api_call.waiting',
    'api_call.backoff',
  ] as const;
  for (const state of states) {
    it(`is accepted at ${state} and changes nothing`, () => {
      const run = createRun({ policy: 'require_human' });
      if (state !== 'created') walkTo(run, state);
      const before = run.persisted();
      const event = run.ev.recovered();
      expect(refusal(run.snapshot, event)).toBeNull();
      run.accept(event);
      expect(run.persisted()).toEqual(before);
      expect(run.rows.at(-1)?.type).toBe('run.recovered');
    });
  }
});
