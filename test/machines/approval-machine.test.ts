import { describe, expect, it } from 'vitest';
import { createActor, initialTransition, type Snapshot, transition } from 'xstate';
import { getShortestPaths } from 'xstate/graph';
import {
  ApprovalEvent,
  ApprovalMachineInput,
  DEFAULT_STANDALONE_ACTIONS,
} from '../../machines/approval-events.ts';
import {
  APPROVAL_MACHINE_VERSION,
  type ApprovalSnapshot,
  approvalMachine,
  checkApprovalEvent,
} from '../../machines/approval-machine.ts';
import { ApprovalRecord, type DecisionAction } from '../../machines/schemas.ts';

const ID = '5b3f8c1e-2f4e-4b8e-9a57-0c6f1d2e3a4b';
const OTHER_ID = 'a0e1d6a2-7c33-4d8f-8f3e-5b6c7d8e9f00';
const AT = '2025-03-01T10:05:00.000Z';
const ALL: DecisionAction[] = ['approve', 'edit', 'reject'];

function input(actions: DecisionAction[] = ALL): ApprovalMachineInput {
  return {
    approval_id: ID,
    created_at: '2025-03-01T10:00:00.000Z',
    expires_at: '2025-03-01T11:00:00.000Z',
    actions,
  };
}

function pending(actions: DecisionAction[] = ALL): ApprovalSnapshot {
  return initialTransition(approvalMachine, input(actions))[0];
}

function next(snapshot: ApprovalSnapshot, event: ApprovalEvent): ApprovalSnapshot {
  return transition(approvalMachine, snapshot, event)[0];
}

const approve: ApprovalEvent = { type: 'review.approve', approval_id: ID, at: AT, actor: 'user:ada' };
const edit: ApprovalEvent = {
  type: 'review.edit',
  approval_id: ID,
  at: AT,
  actor: 'user:ada',
  edits: { quantity: 1 },
};
const reject: ApprovalEvent = {
  type: 'review.reject',
  approval_id: ID,
  at: AT,
  actor: 'user:ada',
  reason: 'too expensive',
};
const expire: ApprovalEvent = { type: 'approval.expired', approval_id: ID, at: AT, actor: 'system:timeout' };
const cancel: ApprovalEvent = {
  type: 'approval.cancelled',
  approval_id: ID,
  at: AT,
  actor: 'service:0a1b2c3d',
  reason: 'agent stopped',
};
const EVERY_EVENT = [approve, edit, reject, expire, cancel];

describe('approval machine', () => {
  it('starts pending, needing a human, with an ApprovalRecord as context', () => {
    const snapshot = pending();
    expect(snapshot.value).toBe('pending');
    expect(snapshot.hasTag('needsHuman')).toBe(true);
    expect(ApprovalRecord.parse(snapshot.context)).toEqual({
      approval_id: ID,
      checkpoint_type: 'browser_action_approval',
      actions: ALL,
      created_at: '2025-03-01T10:00:00.000Z',
      expires_at: '2025-03-01T11:00:00.000Z',
      status: 'pending',
      decision: null,
    });
    expect(APPROVAL_MACHINE_VERSION).toBe(1);
  });

  it.each([
    {
      event: approve,
      status: 'approved',
      decision: { action: 'approve', actor: 'user:ada', decided_at: AT },
    },
    {
      event: edit,
      status: 'edited',
      decision: { action: 'edit', edits: { quantity: 1 }, actor: 'user:ada', decided_at: AT },
    },
    {
      event: reject,
      status: 'rejected',
      decision: { action: 'reject', reason: 'too expensive', actor: 'user:ada', decided_at: AT },
    },
    {
      event: expire,
      status: 'expired',
      decision: { action: 'expired', actor: 'system:timeout', decided_at: AT },
    },
    {
      event: cancel,
      status: 'cancelled',
      decision: { action: 'cancelled', reason: 'agent stopped', actor: 'service:0a1b2c3d', decided_at: AT },
    },
  ])('$event.type ends the approval $status with its decision recorded', ({ event, status, decision }) => {
    const done = next(pending(), event);
    expect(done.value).toBe(status);
    expect(done.status).toBe('done');
    expect(done.hasTag('needsHuman')).toBe(false);
    expect(done.context.status).toBe(status);
    expect(done.context.decision).toStrictEqual(decision);
    expect(done.output).toStrictEqual(done.context);
    expect(checkApprovalEvent(pending(), event)).toBeNull();
  });

  it('records who decided on whose behalf and the client time, never trusting it for decided_at', () => {
    const done = next(pending(), {
      ...approve,
      on_behalf_of: 'user:bob',
      client_timestamp: '2020-01-01T00:00:00Z',
    });
    expect(done.context.decision).toStrictEqual({
      action: 'approve',
      actor: 'user:ada',
      on_behalf_of: 'user:bob',
      client_timestamp: '2020-01-01T00:00:00Z',
      decided_at: AT,
    });
  });

  it('refuses an action that is not offered (default approve, reject: no edit)', () => {
    const start = pending([...DEFAULT_STANDALONE_ACTIONS]);
    expect(next(start, edit)).toBe(start);
    expect(checkApprovalEvent(start, edit)).toMatchObject({ code: 'invalid_action' });
    const approveOnly = pending(['approve']);
    expect(next(approveOnly, reject).value).toBe('pending');
    expect(checkApprovalEvent(approveOnly, reject)).toMatchObject({ code: 'invalid_action' });
  });

  it('refuses an edit without edits, and edits sent with approve or reject', () => {
    const start = pending();
    const bad: ApprovalEvent[] = [
      { type: 'review.edit', approval_id: ID, at: AT, actor: 'user:ada' },
      { type: 'review.edit', approval_id: ID, at: AT, actor: 'user:ada', edits: {} },
      { ...approve, edits: { quantity: 2 } },
      { ...reject, edits: { quantity: 2 } },
    ];
    for (const event of bad) {
      expect(next(start, event)).toBe(start);
      expect(checkApprovalEvent(start, event)).toMatchObject({ code: 'invalid_edits' });
    }
    // An empty edits object on approve carries nothing to lose.
    expect(next(start, { ...approve, edits: {} }).value).toBe('approved');
  });

  it('refuses every event that names another approval as not pending', () => {
    const start = pending();
    for (const event of EVERY_EVENT) {
      const stale = { ...event, approval_id: OTHER_ID };
      expect(next(start, stale)).toBe(start);
      expect(checkApprovalEvent(start, stale)).toMatchObject({ code: 'approval_not_pending' });
    }
  });

  it('refuses every event after a final state, leaving the decision as it was', () => {
    for (const first of EVERY_EVENT) {
      const done = next(pending(), first);
      for (const event of EVERY_EVENT) {
        const after = next(done, event);
        expect(after.value).toBe(done.value);
        expect(after.context).toStrictEqual(done.context);
        expect(checkApprovalEvent(done, event)).toMatchObject({ code: 'approval_not_pending' });
      }
    }
  });

  it('checkApprovalEvent says null exactly when the machine accepts the event', () => {
    const starts = [
      pending(),
      pending(['approve', 'reject']),
      pending(['edit']),
      ...EVERY_EVENT.map((e) => next(pending(), e)),
    ];
    const events = EVERY_EVENT.flatMap((e) => [e, { ...e, approval_id: OTHER_ID }, { ...e, edits: {} }]);
    for (const start of starts) {
      for (const event of events) {
        const moved = next(start, event).value !== start.value;
        expect(checkApprovalEvent(start, event) === null).toBe(moved);
      }
    }
  });

  it('reaches every final state through xstate/graph paths', () => {
    const paths = getShortestPaths(approvalMachine, { input: input(), events: EVERY_EVENT });
    const reached = paths.map((p) => p.state.value).sort();
    expect(reached).toEqual(['approved', 'cancelled', 'edited', 'expired', 'pending', 'rejected']);
  });
});

describe('approval machine persistence', () => {
  it('continues correctly from a snapshot that went through JSON', () => {
    const live = createActor(approvalMachine, { input: input() }).start();
    const stored = JSON.stringify(live.getPersistedSnapshot());
    live.stop();

    const persisted: Snapshot<unknown> = JSON.parse(stored);
    // The types ask for input, but a restored actor never reads it: the snapshot carries the context.
    const restored = createActor(approvalMachine, { snapshot: persisted, input: input() }).start();
    expect(restored.getSnapshot().value).toBe('pending');
    restored.send({ ...edit, approval_id: OTHER_ID });
    expect(restored.getSnapshot().value).toBe('pending');
    restored.send(edit);
    expect(restored.getSnapshot().value).toBe('edited');
    expect(restored.getSnapshot().context.decision?.edits).toEqual({ quantity: 1 });

    // A final snapshot restores as final and still refuses decisions.
    const final: Snapshot<unknown> = JSON.parse(JSON.stringify(restored.getPersistedSnapshot()));
    const again = createActor(approvalMachine, { snapshot: final, input: input() }).start();
    expect(again.getSnapshot().status).toBe('done');
    expect(again.getSnapshot().context).toStrictEqual(restored.getSnapshot().context);
    expect(checkApprovalEvent(again.getSnapshot(), approve)).toMatchObject({ code: 'approval_not_pending' });
    expect(next(again.getSnapshot(), approve).context.status).toBe('edited');
  });

  it('replaying the events from the initial state reproduces the live snapshot (JSON-equal)', () => {
    const log: ApprovalEvent[] = [{ ...approve, approval_id: OTHER_ID }, edit, reject];
    const live = createActor(approvalMachine, { input: input(['approve', 'reject']) }).start();
    for (const event of log) live.send(event);
    // The edit (not offered) was refused; the reject decided it.
    expect(live.getSnapshot().value).toBe('rejected');

    let replayed = initialTransition(approvalMachine, input(['approve', 'reject']))[0];
    for (const event of log) replayed = transition(approvalMachine, replayed, event)[0];
    expect(JSON.stringify(approvalMachine.getPersistedSnapshot(replayed))).toBe(
      JSON.stringify(live.getPersistedSnapshot()),
    );
  });
});

describe('approval event schemas', () => {
  it('accept the stamped events and reject malformed ones', () => {
    for (const event of EVERY_EVENT) expect(ApprovalEvent.parse(event)).toEqual(event);
    expect(ApprovalEvent.safeParse({ ...approve, at: 'yesterday' }).success).toBe(false);
    expect(ApprovalEvent.safeParse({ ...approve, actor: '' }).success).toBe(false);
    expect(ApprovalEvent.safeParse({ ...edit, edits: 'more' }).success).toBe(false);
    expect(ApprovalEvent.safeParse({ ...approve, type: 'review.retry' }).success).toBe(false);
    expect(ApprovalMachineInput.safeParse({ ...input(), actions: [] }).success).toBe(false);
  });
});
