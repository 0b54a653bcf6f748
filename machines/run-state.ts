import type { SnapshotFrom } from 'xstate';
import type { RunContext } from './run-context.ts';
import { isDecision, stepOf } from './run-decisions.ts';
import type { RunEvent } from './run-events.ts';
import type { runMachine } from './run-machine.ts';
import {
  decisionRefusal,
  pauseRefusal,
  type RefusalCode,
  type RunRefusal,
  resumeRefusal,
} from './run-refusal.ts';
import { isTerminalStatus, type RunStatus, type Step } from './schemas.ts';

export type RunSnapshot = SnapshotFrom<typeof runMachine>;

/** The public `current_step` of a snapshot. */
export function currentStep(snapshot: RunSnapshot): Step {
  const value = snapshot.value;
  return (typeof value === 'string' ? value : Object.keys(value)[0]) as Step;
}

/** The public `status` of a snapshot (SPEC §1). */
export function runStatus(snapshot: RunSnapshot): RunStatus {
  const step = currentStep(snapshot);
  if (isTerminalStatus(step)) return step;
  if (snapshot.context.paused) return 'paused';
  if (snapshot.hasTag('needsHuman')) return 'awaiting_human';
  if (step === 'created') return 'queued';
  return 'running';
}

/** Whether the run has ended: no event changes it any more. */
export function isTerminal(snapshot: RunSnapshot): boolean {
  return isTerminalStatus(currentStep(snapshot));
}

/** The sub-state inside the current step, e.g. `awaitingReview`, `submitting`. */
export function phase(snapshot: RunSnapshot): string | null {
  const value = snapshot.value;
  if (typeof value === 'string') return null;
  const inner = Object.values(value)[0];
  return typeof inner === 'string' ? inner : null;
}

export type { RefusalCode, RunRefusal };

/** Why the machine would refuse `event`, in the precedence of SPEC §3; null when it accepts it. */
export function refusal(snapshot: RunSnapshot, event: RunEvent): RunRefusal | null {
  if (isTerminal(snapshot)) return { code: 'run_terminal', message: `The run is ${runStatus(snapshot)}` };
  const ctx: RunContext = snapshot.context;
  if (isDecision(event) || event.type === 'approval.expired') {
    const refused = decisionRefusal(ctx, event);
    if (refused) return refused;
  }
  if (event.type === 'run.paused') return pauseRefusal(ctx);
  if (event.type === 'run.resumed') return resumeRefusal(ctx);
  // `run.recovered` only marks the log (a node took the run over): accepted in every live state,
  // though `snapshot.can()` says false for a transition with neither target nor actions.
  if (event.type === 'run.recovered') return null;
  if (!snapshot.can(event)) {
    return { code: 'invalid_transition', message: `${event.type} does not apply at ${stepOf(ctx)}` };
  }
  return null;
}
