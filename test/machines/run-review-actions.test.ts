import { describe, expect, it } from 'vitest';
import { runStatus } from '../../machines/run-state.ts';
import { workFor } from '../../machines/run-work.ts';
import { built, createRun, issue, report, walkTo, where } from '../support/run-events.ts';

/** Every action at information_review and payload_review (SPEC §2.2, §2.4). */

describe('information_review actions', () => {
  const atInformation = () => {
    const run = createRun({ policy: 'require_human' });
    walkTo(run, 'information_review.awaitingReview');
    return run;
  };

  it('offers approve, edit and reject', () => {
    expect(atInformation().context.approvals.at(-1)?.actions).toEqual(['approve', 'edit', 'reject']);
  });

  it('approve continues at payload_review and records who approved', () => {
    const run = atInformation();
    const id = run.openId;
    run.accept(run.ev.approve(id, { reason: 'looks right', on_behalf_of: 'bob' }));
    expect(where(run.snapshot)).toBe('payload_review.building');
    const approval = run.context.approvals.find((a) => a.approval_id === id);
    expect(approval?.status).toBe('approved');
    expect(approval?.decision).toMatchObject({
      action: 'approve',
      actor: 'user:alice',
      reason: 'looks right',
      on_behalf_of: 'bob',
    });
    expect(run.context.step_history.find((e) => e.step === 'information_review')).toMatchObject({
      status: 'approved',
      actor: 'user:alice',
      approval_id: id,
    });
    expect(workFor(run.snapshot)).toEqual({ type: 'build_payload' });
  });

  it('edit applies edits.prompt and edits.model_config to the request and takes the new capabilities', () => {
    const run = atInformation();
    const id = run.openId;
    const after = report(0.75, 0.02);
    run.accept(
      run.ev.edit(id, { prompt: 'a dog', model_config: { latest_version: 'v2' } }, { report: after }),
    );
    expect(where(run.snapshot)).toBe('payload_review.building');
    expect(run.context.request).toEqual({
      prompt: 'a dog',
      attachments: [],
      model_config: { name: 'owner/model', latest_version: 'v2' },
    });
    expect(run.context.capabilities).toEqual(after.capabilities);
    expect(run.context.confidence).toBe(0.75);
    expect(run.context.approvals.at(-1)).toMatchObject({ status: 'edited', decision: { action: 'edit' } });
  });

  it('edit with only a prompt keeps the model config', () => {
    const run = atInformation();
    run.accept(run.ev.edit(run.openId, { prompt: 'a dog' }, { report: report() }));
    expect(run.context.request.model_config).toEqual({ name: 'owner/model' });
    expect(run.context.request.prompt).toBe('a dog');
  });

  it('reject cancels the run with error code rejected and a rejected approval', () => {
    const run = atInformation();
    const id = run.openId;
    run.accept(run.ev.reject(id, { reason: 'wrong model' }));
    expect(runStatus(run.snapshot)).toBe('cancelled');
    expect(run.context.error).toMatchObject({
      code: 'rejected',
      message: 'wrong model',
      step: 'information_review',
    });
    expect(run.context.approvals.at(-1)).toMatchObject({ approval_id: id, status: 'rejected' });
  });

  it('refuses retry with invalid_action', () => {
    const run = atInformation();
    expect(run.send(run.ev.retry(run.openId))).toBe('invalid_action');
  });

  const badEdits: Array<[string, Record<string, unknown>, boolean]> = [
    ['a payload (wrong key)', { payload: { prompt: 'x' } }, true],
    ['a prompt plus an unknown key', { prompt: 'x', response: 'y' }, true],
    ['no edits at all', {}, true],
    ['an empty prompt', { prompt: '  ' }, true],
    ['a model_config that is not an object', { model_config: 'owner/other' }, true],
    ['a prompt the edge could not evaluate (no report)', { prompt: 'x' }, false],
  ];
  for (const [what, edits, withReport] of badEdits) {
    it(`refuses an edit with ${what} as invalid_edits and changes nothing`, () => {
      const run = atInformation();
      const before = run.persisted();
      expect(run.send(run.ev.edit(run.openId, edits, withReport ? { report: report() } : {}))).toBe(
        'invalid_edits',
      );
      expect(run.persisted()).toEqual(before);
    });
  }
});

describe('payload_review actions', () => {
  const atPayload = (issues = [issue('warning', 'steps')]) => {
    const run = createRun({ policy: 'require_human', allowed_steps: ['payload_review'] });
    run.accept(run.ev.capabilities(), run.ev.built(built({ prompt: 'a cat', steps: 20 }, issues, 1)));
    expect(where(run.snapshot)).toBe('payload_review.awaitingReview');
    return run;
  };
  const withErrors = () => atPayload([issue('error', 'image')]);

  it('approve sends the built payload on to api_call', () => {
    const run = atPayload();
    run.accept(run.ev.approve(run.openId));
    expect(where(run.snapshot)).toBe('api_call.ready');
    expect(run.context.payload).toEqual({ prompt: 'a cat', steps: 20 });
    expect(workFor(run.snapshot)).toEqual({ type: 'start_submission', attempt: 1 });
  });

  it('offers approve only while no error issue is left', () => {
    expect(atPayload().context.approvals.at(-1)?.actions).toEqual(['approve', 'edit', 'reject']);
    expect(withErrors().context.approvals.at(-1)?.actions).toEqual(['edit', 'reject']);
  });

  it('refuses approve with invalid_action while an error issue is left', () => {
    const run = withErrors();
    const before = run.persisted();
    expect(run.send(run.ev.approve(run.openId))).toBe('invalid_action');
    expect(run.persisted()).toEqual(before);
  });

  it('an edit that fixes the errors continues to api_call with exactly the edited payload', () => {
    const run = withErrors();
    const id = run.openId;
    const edited = { prompt: 'a cat', steps: 20, image: 'https://cdn.example/cat.png' };
    run.accept(
      run.ev.edit(id, { payload: { image: 'https://cdn.example/cat.png' } }, { built: built(edited, [], 2) }),
    );
    expect(where(run.snapshot)).toBe('api_call.ready');
    expect(run.context.payload).toEqual(edited);
    expect(run.context.issues).toEqual([]);
    expect(run.context.approvals.find((a) => a.approval_id === id)).toMatchObject({
      status: 'edited',
      decision: { action: 'edit', edits: { payload: { image: 'https://cdn.example/cat.png' } } },
    });
  });

  it('an edit that leaves errors stays at payload_review under a new approval', () => {
    const run = withErrors();
    const first = run.openId;
    const edit = run.ev.edit(
      first,
      { payload: { steps: 'many' } },
      {
        built: built({ prompt: 'a cat', steps: 'many' }, [issue('error', 'steps')], 1),
      },
    );
    run.accept(edit);
    expect(where(run.snapshot)).toBe('payload_review.awaitingReview');
    expect(run.openId).toBe(edit.id);
    expect(run.openId).not.toBe(first);
    expect(run.context.approvals.map((a) => a.status)).toEqual(['edited', 'pending']);
    expect(run.context.approvals.at(-1)?.actions).toEqual(['edit', 'reject']);
    expect(run.context.payload).toEqual({ prompt: 'a cat', steps: 'many' });
  });

  it('reject cancels the run with error code rejected and a rejected approval', () => {
    const run = withErrors();
    const id = run.openId;
    run.accept(run.ev.reject(id));
    expect(runStatus(run.snapshot)).toBe('cancelled');
    expect(run.context.error).toMatchObject({ code: 'rejected', step: 'payload_review' });
    expect(run.context.approvals.at(-1)).toMatchObject({ approval_id: id, status: 'rejected' });
  });

  it('refuses retry with invalid_action', () => {
    const run = atPayload();
    expect(run.send(run.ev.retry(run.openId))).toBe('invalid_action');
  });

  const badEdits: Array<[string, Record<string, unknown>, boolean]> = [
    ['a prompt instead of a payload', { prompt: 'a dog' }, true],
    ['a payload that is not an object', { payload: 'a dog' }, true],
    ['a payload that is a list', { payload: ['a dog'] }, true],
    ['a payload plus an unknown key', { payload: { prompt: 'a dog' }, response: 'x' }, true],
    ['a payload the edge could not validate (no built)', { payload: { prompt: 'a dog' } }, false],
  ];
  for (const [what, edits, withBuilt] of badEdits) {
    it(`refuses an edit with ${what} as invalid_edits and changes nothing`, () => {
      const run = withErrors();
      const before = run.persisted();
      const more = withBuilt ? { built: built({ prompt: 'a dog' }) } : {};
      expect(run.send(run.ev.edit(run.openId, edits, more))).toBe('invalid_edits');
      expect(run.persisted()).toEqual(before);
    });
  }
});
