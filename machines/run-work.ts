import { openApproval } from './run-context.ts';
import { currentStep, isTerminal, phase, type RunSnapshot } from './run-state.ts';

/** In-process work a state asks the host to do next (SPEC §2.6 runtime pattern). */
export type Work =
  | { type: 'report_capabilities' }
  | { type: 'build_payload' }
  /** Log `prediction.submitting` with this attempt number, then submit. */
  | { type: 'start_submission'; attempt: number }
  /** `prediction.submitting` is logged: send the request (or, on recovery, declare the outcome unknown). */
  | { type: 'submit'; attempt: number };

/** The work the run's current state asks for, or null (waiting for a human, a timer or a provider). */
export function workFor(snapshot: RunSnapshot): Work | null {
  if (isTerminal(snapshot) || snapshot.context.paused) return null;
  const step = currentStep(snapshot);
  const sub = phase(snapshot);
  if (step === 'created') return { type: 'report_capabilities' };
  if (step === 'payload_review' && sub === 'building') return { type: 'build_payload' };
  if (step === 'api_call' && sub === 'ready')
    return { type: 'start_submission', attempt: snapshot.context.attempt + 1 };
  if (step === 'api_call' && sub === 'submitting')
    return { type: 'submit', attempt: snapshot.context.attempt };
  return null;
}

export interface DesiredTimer {
  kind: 'deadline' | 'poll' | 'retry';
  key: string;
  fire_at: string;
}

/** Durable wake-ups the run needs now: checkpoint deadline, automatic retry, prediction polling. */
export function timersFor(snapshot: RunSnapshot): DesiredTimer[] {
  if (isTerminal(snapshot)) return [];
  const ctx = snapshot.context;
  const out: DesiredTimer[] = [];
  const open = openApproval(ctx);
  if (open) out.push({ kind: 'deadline', key: open.approval_id, fire_at: open.expires_at });
  const sub = phase(snapshot);
  if (currentStep(snapshot) === 'api_call') {
    if (sub === 'backoff' && ctx.retry_at && !ctx.paused) {
      out.push({ kind: 'retry', key: String(ctx.attempt + 1), fire_at: ctx.retry_at });
    }
    // Polling goes on while paused: a result that arrives is logged (SPEC §2.5).
    if (sub === 'waiting' && ctx.prediction) {
      out.push({ kind: 'poll', key: ctx.prediction.id, fire_at: ctx.prediction.created_at });
    }
  }
  return out;
}
