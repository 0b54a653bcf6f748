import { openApproval } from './run-context.ts';
import type { ProviderWork } from './run-events.ts';
import type { RunStateMeta } from './run-machine.ts';
import { isTerminal, type RunSnapshot } from './run-state.ts';

/** In-process work a state asks the host to do next (SPEC §2.6 runtime pattern). */
export type Work =
  | { type: 'report_capabilities' }
  | { type: 'build_payload' }
  /** Log `prediction.submitting` with this attempt number, then submit. */
  | { type: 'start_submission'; attempt: number }
  /** `prediction.submitting` is logged: send the request (or, on recovery, declare the outcome unknown). */
  | { type: 'submit'; attempt: number };

/** The meta of the states the run is in, merged (a step's own and its sub-state's). */
function stateMeta(snapshot: RunSnapshot): RunStateMeta {
  const merged: RunStateMeta = {};
  for (const meta of Object.values(snapshot.getMeta())) Object.assign(merged, meta);
  return merged;
}

/** The work the run's current state asks for, or null (waiting for a human, a timer or a provider). */
export function workFor(snapshot: RunSnapshot): Work | null {
  if (isTerminal(snapshot) || snapshot.context.paused) return null;
  const meta = stateMeta(snapshot);
  // A provider step backing off waits for its `step_retry` timer, not for a node.
  if (meta.provider_work && snapshot.context.work_retry_at !== null) return null;
  switch (meta.work) {
    case 'report_capabilities':
    case 'build_payload':
      return { type: meta.work };
    case 'start_submission':
      return { type: 'start_submission', attempt: snapshot.context.attempt + 1 };
    case 'submit':
      return { type: 'submit', attempt: snapshot.context.attempt };
    default:
      return null;
  }
}

export interface DesiredTimer {
  kind: 'deadline' | 'poll' | 'retry' | 'step_retry';
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
  const meta = stateMeta(snapshot);
  const work = workInProgress(snapshot);
  if (work && ctx.work_retry_at && !ctx.paused) {
    out.push({ kind: 'step_retry', key: `${work}:${ctx.work_failures + 1}`, fire_at: ctx.work_retry_at });
  }
  if (meta.waits_for === 'retry' && ctx.retry_at && !ctx.paused) {
    out.push({ kind: 'retry', key: String(ctx.attempt + 1), fire_at: ctx.retry_at });
  }
  // Polling goes on while paused: a result that arrives is logged (SPEC §2.5).
  if (meta.waits_for === 'prediction' && ctx.prediction) {
    out.push({ kind: 'poll', key: ctx.prediction.id, fire_at: ctx.prediction.created_at });
  }
  return out;
}

/** The provider step the run is at (capabilities before information_review, payload while building). */
export function workInProgress(snapshot: RunSnapshot): ProviderWork | null {
  if (isTerminal(snapshot)) return null;
  return stateMeta(snapshot).provider_work ?? null;
}

function waitsForPrediction(snapshot: RunSnapshot): boolean {
  return stateMeta(snapshot).waits_for === 'prediction';
}

/** A one-shot work item written with the commit that asks for it. */
export interface WorkItem {
  kind: 'cancel';
  key: string;
  fire_at: string;
}

/**
 * Cancels a transition asks for: the run waited for a prediction that has not finished and no
 * longer does (cancelled, rejected, or its `prediction_timeout_seconds` passed). One per
 * prediction: only the transition that leaves the wait asks.
 */
export function cancelsFor(prev: RunSnapshot, next: RunSnapshot, at: string): WorkItem[] {
  const p = prev.context.prediction;
  if (!p || p.completed_at !== null) return [];
  if (!waitsForPrediction(prev) || waitsForPrediction(next)) return [];
  const n = next.context.prediction;
  if (!n || n.id !== p.id || n.completed_at !== null) return [];
  return [{ kind: 'cancel', key: p.id, fire_at: at }];
}
