import { assign, type SnapshotFrom, setup } from 'xstate';
import type { ApprovalEvent, ApprovalMachineInput, ReviewEvent } from './approval-events.ts';
import type { ApprovalRecord, ApprovalStatus, Decision } from './schemas.ts';

/** Stored with every persisted approval snapshot; bump when states or context change shape. */
export const APPROVAL_MACHINE_VERSION = 1;

/** Why an event would be refused, in the error codes of SPEC §3. */
export type ApprovalRefusal = {
  code: 'approval_not_pending' | 'invalid_action' | 'invalid_edits';
  message: string;
};

// One table from event to outcome, so the decision action and the approval status cannot drift.
const OUTCOME = {
  'review.approve': { action: 'approve', status: 'approved' },
  'review.edit': { action: 'edit', status: 'edited' },
  'review.reject': { action: 'reject', status: 'rejected' },
  'approval.expired': { action: 'expired', status: 'expired' },
  'approval.cancelled': { action: 'cancelled', status: 'cancelled' },
} as const satisfies Record<ApprovalEvent['type'], { action: Decision['action']; status: ApprovalStatus }>;

function isReview(event: ApprovalEvent): event is ReviewEvent {
  return event.type === 'review.approve' || event.type === 'review.edit' || event.type === 'review.reject';
}

function idRefusal(context: ApprovalRecord, event: ApprovalEvent): ApprovalRefusal | null {
  if (event.approval_id === context.approval_id) return null;
  // A decision for another approval is a stale one (SPEC §2.4): same answer as "already decided".
  return {
    code: 'approval_not_pending',
    message: `event names approval ${event.approval_id}, this approval is ${context.approval_id}`,
  };
}

function reviewRefusal(context: ApprovalRecord, event: ReviewEvent): ApprovalRefusal | null {
  const action = OUTCOME[event.type].action;
  if (!context.actions.includes(action)) {
    return {
      code: 'invalid_action',
      message: `action ${action} is not offered; offered: ${context.actions.join(', ')}`,
    };
  }
  const editCount = event.edits ? Object.keys(event.edits).length : 0;
  if (action === 'edit' && editCount === 0) {
    return { code: 'invalid_edits', message: 'edit needs a non-empty `edits` object' };
  }
  // Edits sent with approve/reject would be silently lost: refuse them instead.
  if (action !== 'edit' && editCount > 0) {
    return { code: 'invalid_edits', message: `edits are only taken with action edit, not ${action}` };
  }
  return null;
}

function decisionOf(event: ApprovalEvent): Decision {
  const review = isReview(event) ? event : null;
  const reason = event.type === 'approval.expired' ? undefined : event.reason;
  // Absent optional fields are left out (not set to undefined) so live and replayed snapshots are JSON-equal.
  return {
    action: OUTCOME[event.type].action,
    ...(review?.type === 'review.edit' && review.edits ? { edits: review.edits } : {}),
    ...(reason !== undefined ? { reason } : {}),
    actor: event.actor,
    ...(review?.on_behalf_of !== undefined ? { on_behalf_of: review.on_behalf_of } : {}),
    ...(review?.client_timestamp !== undefined ? { client_timestamp: review.client_timestamp } : {}),
    decided_at: event.at,
  };
}

/** Standalone approval (SPEC §6): pending until one decision, expiry or cancellation. */
export const approvalMachine = setup({
  types: {
    context: {} as ApprovalRecord,
    events: {} as ApprovalEvent,
    input: {} as ApprovalMachineInput,
    output: {} as ApprovalRecord,
  },
  guards: {
    acceptsReview: ({ context, event }) =>
      isReview(event) && idRefusal(context, event) === null && reviewRefusal(context, event) === null,
    isThisApproval: ({ context, event }) => idRefusal(context, event) === null,
  },
  actions: {
    recordDecision: assign(({ event }) => ({
      status: OUTCOME[event.type].status,
      decision: decisionOf(event),
    })),
  },
}).createMachine({
  id: 'approval',
  context: ({ input }) => ({
    approval_id: input.approval_id,
    checkpoint_type: 'browser_action_approval',
    actions: [...input.actions],
    created_at: input.created_at,
    expires_at: input.expires_at,
    status: 'pending',
    decision: null,
  }),
  initial: 'pending',
  states: {
    pending: {
      tags: ['needsHuman'],
      on: {
        'review.approve': { guard: 'acceptsReview', target: 'approved', actions: 'recordDecision' },
        'review.edit': { guard: 'acceptsReview', target: 'edited', actions: 'recordDecision' },
        'review.reject': { guard: 'acceptsReview', target: 'rejected', actions: 'recordDecision' },
        'approval.expired': { guard: 'isThisApproval', target: 'expired', actions: 'recordDecision' },
        'approval.cancelled': { guard: 'isThisApproval', target: 'cancelled', actions: 'recordDecision' },
      },
    },
    approved: { type: 'final' },
    edited: { type: 'final' },
    rejected: { type: 'final' },
    expired: { type: 'final' },
    cancelled: { type: 'final' },
  },
  output: ({ context }) => context,
});

/** A snapshot of the approval machine. */
export type ApprovalSnapshot = SnapshotFrom<typeof approvalMachine>;

/** Why `event` would be refused in `snapshot` (null: it would be accepted); the guards agree with it. */
export function checkApprovalEvent(snapshot: ApprovalSnapshot, event: ApprovalEvent): ApprovalRefusal | null {
  const { context } = snapshot;
  if (snapshot.status !== 'active' || !snapshot.matches('pending')) {
    return { code: 'approval_not_pending', message: `approval ${context.approval_id} is ${context.status}` };
  }
  return idRefusal(context, event) ?? (isReview(event) ? reviewRefusal(context, event) : null);
}
