import type { SnapshotFrom } from 'xstate';
import { openApproval, type RunContext } from './run-context.ts';
import { ACTION_OF, editsProblem, isDecision, stepOf } from './run-decisions.ts';
import type { RunEvent } from './run-events.ts';
import type { runMachine } from './run-machine.ts';
import type { DecisionAction, RunStatus, Step } from './schemas.ts';

export type RunSnapshot = SnapshotFrom<typeof runMachine>;

/** The public `current_step` of a snapshot. */
export function currentStep(snapshot: RunSnapshot): Step {
  const value = snapshot.value;
  return (typeof value === 'string' ? value : Object.keys(value)[0]) as Step;
}

/** The public `status` of a snapshot (SPEC §1). */
export function runStatus(snapshot: RunSnapshot): RunStatus {
  const step = currentStep(snapshot);
  if (step === 'completed' || step === 'failed' || step === 'cancelled' || step === 'expired') return step;
  if (snapshot.context.paused) return 'paused';
  if (snapshot.hasTag('needsHuman')) return 'awaiting_human';
  if (step === 'created') return 'queued';
  return 'running';
}

export function isTerminal(snapshot: RunSnapshot): boolean {
  return snapshot.status === 'done';
}

/** The sub-state inside the current step, e.g. `awaitingReview`, `submitting`. */
export function phase(snapshot: RunSnapshot): string | null {
  const value = snapshot.value;
  if (typeof value === 'string') return null;
  const inner = Object.values(value)[0];
  return typeof inner === 'string' ? inner : null;
}

export type RefusalCode =
  | 'run_terminal'
  | 'approval_not_pending'
  | 'invalid_transition'
  | 'invalid_action'
  | 'invalid_edits';

/** Why the machine would refuse `event`, in the precedence of SPEC §3; null when it accepts it. */
export function refusal(
  snapshot: RunSnapshot,
  event: RunEvent,
): { code: RefusalCode; message: string } | null {
  if (isTerminal(snapshot)) return { code: 'run_terminal', message: `The run is ${runStatus(snapshot)}` };
  const ctx: RunContext = snapshot.context;
  if (isDecision(event) || event.type === 'approval.expired') {
    const open = openApproval(ctx);
    if (!open || open.approval_id !== event.approval_id) {
      return { code: 'approval_not_pending', message: `Approval ${event.approval_id} is not pending` };
    }
    if (isDecision(event)) {
      const action = ACTION_OF[event.type] as DecisionAction;
      if (!open.actions.includes(action)) {
        return {
          code: 'invalid_action',
          message: `Action ${action} is not allowed at ${open.checkpoint_type}; allowed: ${open.actions.join(', ')}`,
        };
      }
      const problem = editsProblem(open.checkpoint_type, event);
      if (problem) return { code: 'invalid_edits', message: problem };
    }
  }
  if (event.type === 'run.paused' && (ctx.paused || openApproval(ctx))) {
    const why = ctx.paused ? 'already paused' : 'waiting for a human';
    return { code: 'invalid_transition', message: `Cannot pause: the run is ${why}` };
  }
  if (event.type === 'run.resumed' && !ctx.paused) {
    return { code: 'invalid_transition', message: 'Cannot resume: the run is not paused' };
  }
  // `run.recovered` only marks the log (a node took the run over): accepted in every live state,
  // though `snapshot.can()` says false for a transition with neither target nor actions.
  if (event.type === 'run.recovered') return null;
  if (!snapshot.can(event)) {
    return { code: 'invalid_transition', message: `${event.type} does not apply at ${stepOf(ctx)}` };
  }
  return null;
}
