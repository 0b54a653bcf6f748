import { openApproval, type RunContext } from './run-context.ts';
import { ACTION_OF, type DecisionEvent, editsProblem } from './run-decisions.ts';
import type { RunEvent } from './run-events.ts';

/**
 * The run's refusal rules, one home for each: the machine's guards ask them (a refused event
 * changes nothing) and the host's `refusal` (run-state.ts) answers the caller with their code.
 */

/** The error codes of SPEC §3 a run refuses an event with. */
export type RefusalCode =
  | 'run_terminal'
  | 'approval_not_pending'
  | 'invalid_action'
  | 'invalid_transition'
  | 'invalid_edits';

/** Why the run refuses an event: the code and a sentence for the caller. */
export interface RunRefusal {
  code: RefusalCode;
  message: string;
}

/**
 * Why a decision (or a checkpoint deadline) does not answer the open approval, in the precedence
 * of SPEC §3; null when it does. The machine's guards and the host's `refusal` both ask this.
 */
export function decisionRefusal(
  ctx: RunContext,
  event: DecisionEvent | Extract<RunEvent, { type: 'approval.expired' }>,
): RunRefusal | null {
  const open = openApproval(ctx);
  if (!open || open.approval_id !== event.approval_id) {
    return { code: 'approval_not_pending', message: `Approval ${event.approval_id} is not pending` };
  }
  if (event.type === 'approval.expired') return null;
  const action = ACTION_OF[event.type];
  if (!open.actions.includes(action)) {
    return {
      code: 'invalid_action',
      message: `Action ${action} is not allowed at ${open.checkpoint_type}; allowed: ${open.actions.join(', ')}`,
    };
  }
  const problem = editsProblem(open.checkpoint_type, event);
  return problem ? { code: 'invalid_edits', message: problem } : null;
}

/** Why `run.paused` is refused: already paused, or a human is being waited for (nothing to hold). */
export function pauseRefusal(ctx: RunContext): RunRefusal | null {
  if (!ctx.paused && openApproval(ctx) === null) return null;
  const why = ctx.paused ? 'already paused' : 'waiting for a human';
  return { code: 'invalid_transition', message: `Cannot pause: the run is ${why}` };
}

/** Why `run.resumed` is refused: the run is not paused. */
export function resumeRefusal(ctx: RunContext): RunRefusal | null {
  return ctx.paused ? null : { code: 'invalid_transition', message: 'Cannot resume: the run is not paused' };
}
