import { createStore } from '@xstate/store';
import { describe, expect, it } from 'vitest';
import { fieldDiff, mergedPayload } from '../../../server/console/diff.js';
import { checkpointTypes, selection, summaryOf, visibleApprovals } from '../../../server/console/inbox.js';
import { createConsoleStore } from '../../../server/console/store.js';

type Approval = Parameters<typeof summaryOf>[0];

let n = 0;
function approval(over: Partial<Approval> & { context?: Record<string, unknown> } = {}): Approval {
  n += 1;
  return {
    approval_id: `a${n}`,
    run_id: `r${n}`,
    checkpoint_type: 'payload_review',
    context: { payload: { prompt: `prompt ${n}` }, model: 'echo', estimated_cost: 0 },
    actions: ['approve', 'edit', 'reject'],
    user_id: 'alice',
    session_id: 'chat-1',
    reviewers: { user_ids: ['alice'], roles: ['reviewer'] },
    created_at: new Date(Date.UTC(2026, 0, 1, 10, n)).toISOString(),
    expires_at: new Date(Date.UTC(2026, 0, 1, 12, 60 - n)).toISOString(),
    status: 'pending',
    ...over,
  };
}

function signedIn() {
  const store = createConsoleStore(createStore);
  store.trigger.signedIn();
  store.trigger.connectionChanged({ status: 'online', message: 'Connected' });
  return store;
}
const ids = (rows: Approval[]) => rows.map((a) => a.approval_id);

describe('the console store', () => {
  it('summarises an approval by prompt, model and estimated cost at every checkpoint', () => {
    expect(
      summaryOf(approval({ context: { payload: { text: 'a fox' }, model: 'flux', estimated_cost: 0.03 } })),
    ).toEqual({ prompt: 'a fox', model: 'flux', cost: 0.03 });
    expect(
      summaryOf(
        approval({
          checkpoint_type: 'information_review',
          context: { prompt: 'a cat', capabilities: { model: 'sdxl', estimated_cost: null } },
        }),
      ),
    ).toEqual({ prompt: 'a cat', model: 'sdxl', cost: null });
    expect(
      summaryOf(
        approval({ checkpoint_type: 'browser_action_approval', context: { action_description: 'Buy' } }),
      ),
    ).toEqual({ prompt: 'Buy', model: '', cost: null });
  });

  it('filters by checkpoint, user and session, and sorts by expiry, age or cost', () => {
    const store = signedIn();
    const soon = approval({ user_id: 'bob', expires_at: '2026-01-01T10:30:00.000Z' });
    const costly = approval({
      checkpoint_type: 'response_review',
      session_id: 'chat-9',
      context: { payload: { prompt: 'x' }, estimated_cost: 2 },
    });
    const old = approval({ created_at: '2025-12-31T00:00:00.000Z' });
    store.trigger.listed({ approvals: [old, costly, soon], complete: true });
    const ctx = () => store.getSnapshot().context;

    expect(ids(visibleApprovals(ctx()))[0]).toBe(soon.approval_id);
    store.trigger.sorted({ sort: 'oldest' });
    expect(ids(visibleApprovals(ctx()))[0]).toBe(old.approval_id);
    store.trigger.sorted({ sort: 'cost' });
    expect(ids(visibleApprovals(ctx()))[0]).toBe(costly.approval_id);

    store.trigger.filtered({ user: 'BO' });
    expect(ids(visibleApprovals(ctx()))).toEqual([soon.approval_id]);
    store.trigger.filtered({ user: '', checkpoint: 'response_review' });
    expect(ids(visibleApprovals(ctx()))).toEqual([costly.approval_id]);
    store.trigger.filtered({ checkpoint: '', session: 'chat-9' });
    expect(ids(visibleApprovals(ctx()))).toEqual([costly.approval_id]);
    expect(checkpointTypes(ctx())).toEqual(['payload_review', 'response_review']);
  });

  it('moves the selection with j / k through the rows shown, and stops at the ends', () => {
    const store = signedIn();
    const rows = [approval(), approval(), approval()];
    store.trigger.listed({ approvals: rows, complete: true });
    const order = ids(visibleApprovals(store.getSnapshot().context));
    store.trigger.moved({ by: 1, now: 0 });
    expect(store.getSnapshot().context.selectedId).toBe(order[0]);
    store.trigger.moved({ by: 1, now: 0 });
    store.trigger.moved({ by: 1, now: 0 });
    store.trigger.moved({ by: 1, now: 0 });
    expect(store.getSnapshot().context.selectedId).toBe(order[2]);
    store.trigger.moved({ by: -1, now: 0 });
    expect(store.getSnapshot().context.selectedId).toBe(order[1]);
  });

  it('drops an approval resolved elsewhere, says why, and a late list reply never brings it back', () => {
    const store = signedIn();
    const a = approval();
    store.trigger.requested({ approval: a });
    store.trigger.selected({ id: a.approval_id });
    store.trigger.resolved({
      approval_id: a.approval_id,
      why: 'This approval was rejected by service:billing.',
    });
    let ctx = store.getSnapshot().context;
    expect(visibleApprovals(ctx)).toEqual([]);
    expect(ctx.gone).toBe('This approval was rejected by service:billing.');
    expect(selection(ctx)?.approval.approval_id).toBe(a.approval_id);

    store.trigger.listed({ approvals: [a], complete: true });
    ctx = store.getSnapshot().context;
    expect(visibleApprovals(ctx)).toEqual([]);
  });

  it('keeps one decision in flight per approval; on success keeps the decided item with what was sent', () => {
    const store = signedIn();
    const a = approval();
    store.trigger.requested({ approval: a });
    store.trigger.selected({ id: a.approval_id });
    store.trigger.editStarted();
    const edits = { payload: { prompt: 'edited' } };
    store.trigger.decisionSent({ approval_id: a.approval_id, action: 'edit', edits, at: 't1' });
    store.trigger.decisionSent({ approval_id: a.approval_id, action: 'approve', at: 't2' });
    expect(store.getSnapshot().context.pending[a.approval_id]?.action).toBe('edit');

    store.trigger.decisionAnswered({ approval_id: a.approval_id, success: true, message: 'ok', at: 't3' });
    const ctx = store.getSnapshot().context;
    expect(ctx.pending).toEqual({});
    expect(visibleApprovals(ctx)).toEqual([]);
    expect(ctx.editing).toBe(false);
    expect(selection(ctx)?.decided).toMatchObject({ action: 'edit', edits, message: 'ok' });
    // Our own decision coming back as hitl_approval_resolved does not turn it into "gone".
    store.trigger.resolved({ approval_id: a.approval_id, why: 'decided' });
    expect(store.getSnapshot().context.gone).toBeNull();
  });

  it('settles our own decision by its answer, also when the resolved push comes first', () => {
    const store = signedIn();
    const a = approval();
    store.trigger.requested({ approval: a });
    store.trigger.selected({ id: a.approval_id });
    store.trigger.decisionSent({ approval_id: a.approval_id, action: 'reject', at: 't1' });
    store.trigger.resolved({ approval_id: a.approval_id, why: 'This approval was rejected by you.' });
    store.trigger.decisionAnswered({ approval_id: a.approval_id, success: true, message: 'ok', at: 't2' });
    const ctx = store.getSnapshot().context;
    expect(ctx.gone).toBeNull();
    expect(selection(ctx)?.decided?.action).toBe('reject');
    expect(visibleApprovals(ctx)).toEqual([]);
  });

  it('on a failed decision lets the reviewer try again, unless the approval is gone', () => {
    const store = signedIn();
    const [a, b] = [approval(), approval()];
    store.trigger.listed({ approvals: [a, b], complete: true });
    store.trigger.decisionSent({ approval_id: a.approval_id, action: 'approve', at: 't' });
    store.trigger.decisionAnswered({
      approval_id: a.approval_id,
      success: false,
      message: 'offline',
      at: 't',
    });
    expect(visibleApprovals(store.getSnapshot().context)).toHaveLength(2);

    store.trigger.selected({ id: b.approval_id });
    store.trigger.decisionSent({ approval_id: b.approval_id, action: 'approve', at: 't' });
    store.trigger.decisionAnswered({
      approval_id: b.approval_id,
      success: false,
      message: 'approval_not_pending',
      gone: 'Someone else decided it first.',
      at: 't',
    });
    const ctx = store.getSnapshot().context;
    expect(ids(visibleApprovals(ctx))).toEqual([a.approval_id]);
    expect(ctx.gone).toBe('Someone else decided it first.');
  });

  it('asks for confirmation before a reject, and a cancel leaves nothing sent', () => {
    const store = signedIn();
    const a = approval();
    store.trigger.requested({ approval: a });
    store.trigger.selected({ id: a.approval_id });
    store.trigger.confirmAsked({ action: 'reject' });
    expect(store.getSnapshot().context.confirming).toBe('reject');
    store.trigger.confirmCancelled();
    expect(store.getSnapshot().context).toMatchObject({ confirming: null, pending: {} });
  });

  it('forgets everything on sign-out', () => {
    const store = signedIn();
    const a = approval();
    store.trigger.requested({ approval: a });
    store.trigger.selected({ id: a.approval_id });
    store.trigger.signedOut();
    const ctx = store.getSnapshot().context;
    expect(ctx).toMatchObject({
      inbox: {},
      selectedId: null,
      shown: null,
      connection: { status: 'signed-out' },
    });
  });
});

describe('the field diff of an edit', () => {
  it('lists changed and added fields with before and after; a field left out keeps its value', () => {
    const before = { prompt: 'a red fox', steps: 20, seed: 1 };
    const after = mergedPayload(before, { prompt: 'a blue fox', steps: 20, guidance: 7 });
    expect(after).toEqual({ prompt: 'a blue fox', steps: 20, seed: 1, guidance: 7 });
    expect(fieldDiff(before, after)).toEqual([
      { field: 'prompt', kind: 'changed', before: 'a red fox', after: 'a blue fox' },
      { field: 'guidance', kind: 'added', before: undefined, after: 7 },
    ]);
    expect(fieldDiff({ a: { x: 1, y: 2 } }, { a: { y: 2, x: 1 } })).toEqual([]);
    expect(fieldDiff({ a: 1 }, {})).toEqual([{ field: 'a', kind: 'removed', before: 1, after: undefined }]);
  });
});
