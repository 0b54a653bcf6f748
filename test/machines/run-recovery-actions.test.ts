import { describe, expect, it } from 'vitest';
import { runStatus } from '../../machines/run-state.ts';
import { workFor } from '../../machines/run-work.ts';
import { built, createRun, issue, processed, walkTo, where } from '../support/run-events.ts';

/** Every action at error_recovery and response_review (SPEC §2.2, §2.4). */

describe('error_recovery actions', () => {
  const atRecovery = () => {
    const run = createRun({ policy: 'auto' });
    walkTo(run, 'api_call.awaitingReview');
    return run;
  };
  const broken = () => built({ prompt: '' }, [issue('error')]);

  it('opens with the error and offers edit, retry and reject', () => {
    const run = atRecovery();
    expect(run.context.error).toMatchObject({
      code: 'model_validation_error',
      step: 'api_call',
      retryable: true,
    });
    expect(run.context.approvals.at(-1)).toMatchObject({
      checkpoint_type: 'error_recovery',
      actions: ['edit', 'retry', 'reject'],
    });
  });

  it('refuses approve with invalid_action', () => {
    const run = atRecovery();
    expect(run.send(run.ev.approve(run.openId))).toBe('invalid_action');
  });

  it('retry submits the same payload again as the next attempt', () => {
    const run = atRecovery();
    const id = run.openId;
    run.accept(run.ev.retry(id));
    expect(where(run.snapshot)).toBe('api_call.ready');
    expect(run.context.payload).toEqual({ prompt: 'a cat' });
    expect(run.context.error).toBeNull();
    expect(run.context.approvals.at(-1)).toMatchObject({ approval_id: id, status: 'retried' });
    expect(workFor(run.snapshot)).toEqual({ type: 'start_submission', attempt: 2 });
  });

  it('retry with edits.payload submits the edited payload', () => {
    const run = atRecovery();
    run.accept(
      run.ev.retry(run.openId, {
        edits: { payload: { steps: 10 } },
        built: built({ prompt: 'a cat', steps: 10 }),
      }),
    );
    expect(where(run.snapshot)).toBe('api_call.ready');
    expect(run.context.payload).toEqual({ prompt: 'a cat', steps: 10 });
  });

  it('refuses a retry whose edited payload still has errors as invalid_edits', () => {
    const run = atRecovery();
    const before = run.persisted();
    expect(run.send(run.ev.retry(run.openId, { edits: { payload: { prompt: '' } }, built: broken() }))).toBe(
      'invalid_edits',
    );
    expect(run.persisted()).toEqual(before);
  });

  it('edit that fixes the payload submits exactly the edited payload', () => {
    const run = atRecovery();
    const id = run.openId;
    run.accept(
      run.ev.edit(id, { payload: { prompt: 'a cat, fixed' } }, { built: built({ prompt: 'a cat, fixed' }) }),
    );
    expect(where(run.snapshot)).toBe('api_call.ready');
    expect(run.context.payload).toEqual({ prompt: 'a cat, fixed' });
    expect(run.context.approvals.at(-1)).toMatchObject({ approval_id: id, status: 'edited' });
    expect(workFor(run.snapshot)).toEqual({ type: 'start_submission', attempt: 2 });
  });

  it('edit that leaves errors stays under a new approval that no longer offers retry', () => {
    const run = atRecovery();
    const first = run.openId;
    const edit = run.ev.edit(first, { payload: { prompt: '' } }, { built: broken() });
    run.accept(edit);
    expect(where(run.snapshot)).toBe('api_call.awaitingReview');
    expect(run.openId).toBe(edit.id);
    expect(run.context.approvals.map((a) => a.status)).toEqual(['edited', 'pending']);
    expect(run.context.approvals.at(-1)?.actions).toEqual(['edit', 'reject']);
    // Retrying "as is" would send a payload with an error issue to the provider.
    expect(run.send(run.ev.retry(run.openId))).toBe('invalid_action');
  });

  it('reject cancels the run with error code rejected and a rejected approval', () => {
    const run = atRecovery();
    const id = run.openId;
    run.accept(run.ev.reject(id));
    expect(runStatus(run.snapshot)).toBe('cancelled');
    expect(run.context.error).toMatchObject({ code: 'rejected', step: 'api_call' });
    expect(run.context.approvals.at(-1)).toMatchObject({ approval_id: id, status: 'rejected' });
  });

  it('refuses edits that do not fit error_recovery as invalid_edits', () => {
    const run = atRecovery();
    expect(run.send(run.ev.edit(run.openId, { response: 'x' }, { built: built() }))).toBe('invalid_edits');
    expect(run.send(run.ev.edit(run.openId, { payload: { prompt: 'x' } }))).toBe('invalid_edits');
    expect(run.send(run.ev.retry(run.openId, { edits: { prompt: 'x' } }))).toBe('invalid_edits');
  });
});

describe('response_review actions', () => {
  const atResponse = (output: unknown = ['https://cdn.example/a.png', 'https://cdn.example/b.png']) => {
    const run = createRun({ policy: 'require_human', allowed_steps: ['response_review'] });
    const { ev } = run;
    run.accept(
      ev.capabilities(),
      ev.built(),
      ev.submitting(1),
      ev.created('p1'),
      ev.succeeded('p1', processed(output)),
    );
    expect(where(run.snapshot)).toBe('response_review.awaitingReview');
    return run;
  };

  it('offers approve, edit, retry and reject', () => {
    expect(atResponse().context.approvals.at(-1)?.actions).toEqual(['approve', 'edit', 'retry', 'reject']);
  });

  it('approve completes with final_result exactly the output, a list staying a list', () => {
    const run = atResponse();
    run.accept(run.ev.approve(run.openId));
    expect(runStatus(run.snapshot)).toBe('completed');
    expect(run.context.final_result).toEqual(['https://cdn.example/a.png', 'https://cdn.example/b.png']);
    expect(Array.isArray(run.context.final_result)).toBe(true);
    expect(run.context.approvals.at(-1)?.status).toBe('approved');
  });

  it('approve keeps a text output as text', () => {
    const run = atResponse('Once upon a time');
    run.accept(run.ev.approve(run.openId));
    expect(run.context.final_result).toBe('Once upon a time');
  });

  it('edit completes with edits.response verbatim as final_result', () => {
    const run = atResponse();
    const response = { summary: 'two cats', urls: ['https://cdn.example/a.png'], n: 2 };
    run.accept(run.ev.edit(run.openId, { response }));
    expect(runStatus(run.snapshot)).toBe('completed');
    expect(run.context.final_result).toEqual(response);
    expect(run.context.approvals.at(-1)).toMatchObject({
      status: 'edited',
      decision: { edits: { response } },
    });
  });

  it('refuses an edit without edits.response, or with other keys, as invalid_edits', () => {
    const run = atResponse();
    const before = run.persisted();
    expect(run.send(run.ev.edit(run.openId, { payload: { prompt: 'x' } }, { built: built() }))).toBe(
      'invalid_edits',
    );
    expect(run.send(run.ev.edit(run.openId, { response: 'ok', prompt: 'x' }))).toBe('invalid_edits');
    expect(run.persisted()).toEqual(before);
  });

  it('retry goes back to api_call and the attempt numbering continues', () => {
    const run = atResponse();
    const id = run.openId;
    run.accept(run.ev.retry(id));
    expect(where(run.snapshot)).toBe('api_call.ready');
    expect(workFor(run.snapshot)).toEqual({ type: 'start_submission', attempt: 2 });
    expect(run.send(run.ev.submitting(1))).toBe('invalid_transition');
    run.accept(run.ev.submitting(2), run.ev.created('p2'), run.ev.succeeded('p2', processed('second')));
    expect(where(run.snapshot)).toBe('response_review.awaitingReview');
    expect(run.context.processed_response?.output).toBe('second');
    expect(run.context.approvals.find((a) => a.approval_id === id)?.status).toBe('retried');
    expect(run.context.step_history.map((e) => `${e.step}:${e.status}`)).toEqual([
      'created:completed',
      'information_review:completed',
      'payload_review:completed',
      'api_call:completed',
      'response_review:retried',
      'api_call:completed',
      'response_review:awaiting_human',
    ]);
  });

  it('retry with edits.payload submits the edited payload', () => {
    const run = atResponse();
    run.accept(
      run.ev.retry(run.openId, {
        edits: { payload: { steps: 50 } },
        built: built({ prompt: 'a cat', steps: 50 }),
      }),
    );
    expect(where(run.snapshot)).toBe('api_call.ready');
    expect(run.context.payload).toEqual({ prompt: 'a cat', steps: 50 });
  });

  it('retry gives the new submission its own automatic retries', () => {
    const run = createRun({ policy: 'require_human', allowed_steps: ['response_review'], max_retries: 1 });
    const { ev } = run;
    run.accept(ev.capabilities(), ev.built(), ev.submitting(1), ev.error('rate_limited'), ev.submitting(2));
    run.accept(ev.created('p2'), ev.succeeded('p2'));
    run.accept(ev.retry(run.openId), ev.submitting(3), ev.error('rate_limited'));
    expect(where(run.snapshot)).toBe('api_call.backoff');
  });

  it('reject cancels the run with error code rejected and a rejected approval', () => {
    const run = atResponse();
    const id = run.openId;
    run.accept(run.ev.reject(id, { reason: 'blurry' }));
    expect(runStatus(run.snapshot)).toBe('cancelled');
    expect(run.context.error).toMatchObject({ code: 'rejected', message: 'blurry', step: 'response_review' });
    expect(run.context.final_result).toBeNull();
    expect(run.context.approvals.at(-1)).toMatchObject({ approval_id: id, status: 'rejected' });
  });
});
