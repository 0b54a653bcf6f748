import { describe, expect, it } from 'vitest';
import { derivedFacts } from '../../machines/run-facts.ts';
import { currentStep } from '../../machines/run-state.ts';
import { progress, runView } from '../../machines/run-view.ts';
import { timersFor } from '../../machines/run-work.ts';
import { built, createRun, issue, plus, type Run, walkTo } from '../support/run-events.ts';

/** The run view, progress, derived facts and timers (SPEC §2.6, §2.7, §3 status). */

const view = (run: Run, now = run.ev.now()) =>
  runView(run.snapshot, { seq: run.rows.length, updated_at: now, now });

describe('runView', () => {
  it('shows the open approval, its token, actions and deadline while awaiting a human', () => {
    const run = createRun({ policy: 'auto', timeout_seconds: 120 });
    run.accept(run.ev.capabilities(), run.ev.built(built({ prompt: '' }, [issue('error')], 2)));
    const v = view(run);
    const open = run.context.approvals.at(-1);
    expect(v).toMatchObject({
      run_id: run.input.run_id,
      status: 'awaiting_human',
      current_step: 'payload_review',
      policy: 'auto',
      suggested_payload: { prompt: '' },
      validation_issues: [issue('error')],
      pending_actions: ['edit', 'reject'],
      expires_at: plus(open?.created_at ?? '', 120),
      seq: run.rows.length,
      error: null,
      final_result: null,
    });
    expect(v.hitl_config).toEqual(run.input.config);
    expect(v.approval).toMatchObject({
      approval_id: open?.approval_id,
      approval_token: open?.approval_id,
      run_id: run.input.run_id,
      checkpoint_type: 'payload_review',
      actions: ['edit', 'reject'],
      user_id: 'user-1',
      session_id: 'session-1',
      reviewers: { user_ids: ['user-1'], roles: ['reviewer'] },
      status: 'pending',
      decision: null,
      context: { payload: { prompt: '' }, issues: [issue('error')], estimated_cost: 0, changed_fields: 2 },
    });
  });

  it('shows no approval, no deadline and no pending actions while running', () => {
    const run = createRun({ policy: 'auto' });
    walkTo(run, 'api_call.waiting');
    expect(view(run)).toMatchObject({
      status: 'running',
      current_step: 'api_call',
      approval: null,
      expires_at: null,
      pending_actions: [],
    });
  });

  it('sums every wait for a human into human_review_time_ms, the open one up to now', () => {
    const run = createRun({ policy: 'require_human' });
    walkTo(run, 'information_review.awaitingReview');
    for (let i = 0; i < 9; i++) run.ev.stamp(); // 10 s pass before the decision
    run.accept(run.ev.approve(run.openId), run.ev.built());
    expect(view(run).human_review_time_ms).toBe(10_000);
    expect(view(run, plus(run.ev.now(), 30)).human_review_time_ms).toBe(40_000);
    run.accept(
      run.ev.approve(run.openId),
      run.ev.submitting(1),
      run.ev.created('p1'),
      run.ev.succeeded('p1'),
    );
    run.accept(run.ev.approve(run.openId));
    const done = view(run, plus(run.ev.now(), 3600));
    expect(done.human_review_time_ms).toBe(10_000 + 1000 + 1000);
    expect(done.total_execution_time_ms).toBe(Date.parse(run.ev.now()) - Date.parse(run.input.at));
    expect(done.provider_execution_time_ms).toBe(1000);
  });

  it('keeps a step_history entry per step with its status, approval and deciding actor', () => {
    const run = createRun({ policy: 'require_human', allowed_steps: ['information_review'] });
    walkTo(run, 'information_review.awaitingReview');
    const id = run.openId;
    run.accept(run.ev.approve(id, { actor: 'user:bob' }));
    walkTo(run, 'completed');
    const history = view(run).step_history;
    expect(history.map((e) => [e.step, e.status])).toEqual([
      ['created', 'completed'],
      ['information_review', 'approved'],
      ['payload_review', 'completed'],
      ['api_call', 'completed'],
      ['response_review', 'completed'],
      ['completed', 'completed'],
    ]);
    expect(history[1]).toMatchObject({ approval_id: id, actor: 'user:bob' });
    for (const entry of history) expect(entry.ended_at).not.toBeNull();
    for (let i = 1; i < history.length; i++) expect(history[i]?.started_at).toBe(history[i - 1]?.ended_at);
  });
});

describe('progress', () => {
  it('counts completed steps and never goes above 100 %, even through retries', () => {
    const run = createRun({ policy: 'require_human', allowed_steps: ['response_review'] });
    const seen: number[] = [];
    const check = () => {
      const p = progress(run.context, currentStep(run.snapshot));
      expect(p.completed_steps).toBeLessThanOrEqual(4);
      seen.push(p.percentage);
    };
    check();
    walkTo(run, 'response_review.awaitingReview');
    check();
    for (let i = 0; i < 3; i++) {
      run.accept(run.ev.retry(run.openId));
      walkTo(run, 'response_review.awaitingReview');
      check();
    }
    run.accept(run.ev.approve(run.openId));
    check();
    expect(seen).toEqual([0, 75, 75, 75, 75, 100]);
  });
});

describe('derivedFacts', () => {
  /** The facts each accepted event produced, as `event → fact, fact`. */
  const trail = (run: Run) => {
    const out: string[] = [];
    let current = '';
    for (const row of run.rows.slice(1)) {
      if (row.derived) {
        out[out.length - 1] = `${current} → ${row.type}`;
      } else {
        current = row.type;
        out.push(current);
      }
    }
    return out.filter((line) => line.includes('→'));
  };

  it('emits approval.opened for each opened approval and run.completed at the end, nothing else', () => {
    const run = createRun({ policy: 'require_human', allowed_steps: ['payload_review', 'response_review'] });
    walkTo(run, 'completed');
    expect(trail(run)).toEqual([
      'payload.built → approval.opened',
      'prediction.succeeded → approval.opened',
      'review.approve → run.completed',
    ]);
    const opened = run.facts.filter((f) => f.type === 'approval.opened').map((f) => f.payload.approval_id);
    expect(opened).toEqual(run.context.approvals.map((a) => a.approval_id));
    expect(run.facts.at(-1)?.payload).toEqual({ final_result: ['https://cdn.example/out.png'] });
  });

  it('emits approval.opened again when an edit re-opens the checkpoint', () => {
    const run = createRun({ policy: 'auto' });
    run.accept(run.ev.capabilities(), run.ev.built(built({ prompt: '' }, [issue('error')])));
    run.accept(
      run.ev.edit(
        run.openId,
        { payload: { prompt: '' } },
        { built: built({ prompt: '' }, [issue('error')]) },
      ),
    );
    expect(trail(run)).toEqual(['payload.built → approval.opened', 'review.edit → approval.opened']);
  });

  it('emits run.failed when the prediction fails', () => {
    const run = createRun({ policy: 'auto' });
    walkTo(run, 'api_call.waiting');
    run.accept(run.ev.failed('pred-1'));
    expect(trail(run)).toEqual(['prediction.failed → run.failed']);
    expect(run.facts.at(-1)?.payload).toEqual({ error: run.context.error });
  });

  it('emits run.cancelled after a reject, but not after run.cancelled itself', () => {
    const rejected = createRun({ policy: 'require_human' });
    walkTo(rejected, 'information_review.awaitingReview');
    rejected.accept(rejected.ev.reject(rejected.openId));
    expect(trail(rejected)).toEqual([
      'capabilities.reported → approval.opened',
      'review.reject → run.cancelled',
    ]);

    const cancelled = createRun({ policy: 'auto' });
    cancelled.accept(cancelled.ev.cancelled());
    expect(cancelled.facts).toEqual([]);
  });

  it('emits nothing for an expired approval beyond the input event', () => {
    const run = createRun({ policy: 'require_human' });
    walkTo(run, 'information_review.awaitingReview');
    const before = run.snapshot;
    const event = run.ev.expired(run.openId);
    run.accept(event);
    expect(derivedFacts(before, run.snapshot, event)).toEqual([]);
  });
});

describe('timersFor', () => {
  it('asks for a deadline at the open approval’s expires_at, keyed by its id', () => {
    const run = createRun({ policy: 'require_human', timeout_seconds: 90 });
    walkTo(run, 'information_review.awaitingReview');
    const open = run.context.approvals.at(-1);
    expect(timersFor(run.snapshot)).toEqual([
      { kind: 'deadline', key: open?.approval_id, fire_at: plus(open?.created_at ?? '', 90) },
    ]);
  });

  it('asks for a retry at retry_at keyed by the next attempt, and a poll keyed by the prediction', () => {
    const run = createRun({ policy: 'auto' });
    walkTo(run, 'api_call.backoff');
    expect(timersFor(run.snapshot)).toEqual([{ kind: 'retry', key: '2', fire_at: run.context.retry_at }]);
    run.accept(run.ev.submitting(2));
    const created = run.ev.created('pred-2');
    run.accept(created);
    expect(timersFor(run.snapshot)).toEqual([{ kind: 'poll', key: 'pred-2', fire_at: created.at }]);
  });

  it('asks for nothing while the host itself has work to do, or once the run has ended', () => {
    const run = createRun({ policy: 'auto' });
    for (const stop of [
      'payload_review.building',
      'api_call.ready',
      'api_call.submitting',
      'completed',
    ] as const) {
      walkTo(run, stop);
      expect(timersFor(run.snapshot), stop).toEqual([]);
    }
    expect(timersFor(createRun().snapshot)).toEqual([]);
  });
});
