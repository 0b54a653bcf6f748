import {
  actionsFor,
  addMs,
  addSeconds,
  hasErrors,
  openApproval,
  type RunContext,
  type StepEntry,
} from './run-context.ts';
import type { RunEvent } from './run-events.ts';
import type { ApprovalStatus, CheckpointType, DecisionAction, Step } from './schemas.ts';
import { isRecord } from './values.ts';

/** Pure helpers behind the run machine's guards and assigns. */

export type DecisionEvent = Extract<
  RunEvent,
  { type: 'review.approve' | 'review.edit' | 'review.reject' | 'review.retry' }
>;

export const ACTION_OF: Record<DecisionEvent['type'], DecisionAction> = {
  'review.approve': 'approve',
  'review.edit': 'edit',
  'review.reject': 'reject',
  'review.retry': 'retry',
};

const STATUS_OF: Record<DecisionAction, ApprovalStatus> = {
  approve: 'approved',
  edit: 'edited',
  reject: 'rejected',
  retry: 'retried',
};

export function isDecision(event: RunEvent): event is DecisionEvent {
  return event.type in ACTION_OF;
}

/** Why the edits of a decision do not fit the open checkpoint, or null when they do. */
export function editsProblem(checkpoint: CheckpointType, event: DecisionEvent): string | null {
  const edits = 'edits' in event ? event.edits : undefined;
  if (event.type === 'review.edit') {
    if (!edits || Object.keys(edits).length === 0) return 'edit needs a non-empty `edits` object';
    if (checkpoint === 'information_review') {
      const extra = Object.keys(edits).filter((k) => k !== 'prompt' && k !== 'model_config');
      if (extra.length > 0)
        return `information_review edits take prompt and model_config, not ${extra.join(', ')}`;
      if ('prompt' in edits && (typeof edits.prompt !== 'string' || edits.prompt.trim() === '')) {
        return '`edits.prompt` must be a non-empty string';
      }
      if ('model_config' in edits && !isRecord(edits.model_config))
        return '`edits.model_config` must be an object';
      if (!event.report) return 'the edited request could not be evaluated';
      return null;
    }
    if (checkpoint === 'payload_review' || checkpoint === 'error_recovery') {
      const extra = Object.keys(edits).filter((k) => k !== 'payload');
      if (extra.length > 0) return `${checkpoint} edits take only payload, not ${extra.join(', ')}`;
      if (!isRecord(edits.payload)) return '`edits.payload` must be an object';
      if (!event.built) return 'the edited payload could not be validated';
      return null;
    }
    if (checkpoint === 'response_review') {
      const extra = Object.keys(edits).filter((k) => k !== 'response');
      if (extra.length > 0) return `response_review edits take only response, not ${extra.join(', ')}`;
      return 'response' in edits && edits.response !== undefined ? null : 'edit needs `edits.response`';
    }
  }
  if (event.type === 'review.retry' && edits && Object.keys(edits).length > 0) {
    const extra = Object.keys(edits).filter((k) => k !== 'payload');
    if (extra.length > 0) return `retry edits take only payload, not ${extra.join(', ')}`;
    if (!isRecord(edits.payload)) return '`edits.payload` must be an object';
    if (!event.built) return 'the edited payload could not be validated';
    if (hasErrors(event.built.issues)) {
      const errors = event.built.issues.filter((i) => i.severity === 'error');
      const listed = errors.map((i) => i.issue).join('; ');
      return `the edited payload still has errors, fix them before retrying: ${listed}`;
    }
  }
  return null;
}

/** The current step: the last entry of the history. */
export function stepOf(ctx: RunContext): Step {
  return ctx.step_history[ctx.step_history.length - 1]?.step ?? 'created';
}

/** A new pending approval for `checkpoint`, its id and time taken from the event. */
export function withOpenedApproval(
  ctx: RunContext,
  checkpoint: CheckpointType,
  event: { id: string; at: string },
): Partial<RunContext> {
  const approval = {
    approval_id: event.id,
    checkpoint_type: checkpoint,
    actions: actionsFor(checkpoint, ctx),
    created_at: event.at,
    expires_at: addSeconds(event.at, ctx.config.timeout_seconds),
    status: 'pending' as const,
    decision: null,
  };
  return {
    approvals: [...ctx.approvals, approval],
    step_history: markLast(ctx.step_history, { status: 'awaiting_human', approval_id: event.id }),
  };
}

/** Close the open approval with `status` and a decision built from the event. */
export function closeApproval(
  ctx: RunContext,
  status: ApprovalStatus,
  action: string,
  event: RunEvent,
): RunContext['approvals'] {
  const open = openApproval(ctx);
  if (!open) return ctx.approvals;
  const decision = {
    action: action as DecisionAction,
    ...('edits' in event && event.edits ? { edits: event.edits } : {}),
    ...('reason' in event && event.reason !== undefined ? { reason: event.reason } : {}),
    actor: event.actor,
    ...('on_behalf_of' in event && event.on_behalf_of !== undefined
      ? { on_behalf_of: event.on_behalf_of }
      : {}),
    ...('client_timestamp' in event && event.client_timestamp !== undefined
      ? { client_timestamp: event.client_timestamp }
      : {}),
    decided_at: event.at,
  };
  return ctx.approvals.map((a) => (a.approval_id === open.approval_id ? { ...a, status, decision } : a));
}

/** Approval status for a decision event. */
export function decisionStatus(event: DecisionEvent): ApprovalStatus {
  return STATUS_OF[ACTION_OF[event.type]];
}

export function markLast(history: StepEntry[], patch: Partial<StepEntry>): StepEntry[] {
  const out = history.slice();
  const last = out[out.length - 1];
  if (last) out[out.length - 1] = { ...last, ...patch };
  return out;
}

/** Close the current step entry (status, end time, actor) and optionally open `next`. */
export function closeStep(history: StepEntry[], at: string, status: string, actor?: string): StepEntry[] {
  const last = history[history.length - 1];
  if (!last || last.ended_at !== null) return history;
  return markLast(history, { status, ended_at: at, ...(actor ? { actor } : {}) });
}

export function startStep(history: StepEntry[], step: Step, at: string): StepEntry[] {
  return [...history, { step, status: 'running', started_at: at, ended_at: null }];
}

export { addMs };
