import { openApproval } from './run-context.ts';
import type { RunEvent } from './run-events.ts';
import { currentStep, type RunSnapshot, runStatus } from './run-state.ts';

export interface Fact {
  type: string;
  message: string;
  payload: Record<string, unknown>;
}

/** A short human sentence for an input event, logged in the `message` column. */
/** The note on a provider result whose NUL / lone surrogates were escaped to be storable. */
function escapedNote(escaped: string[] | undefined): string {
  if (!escaped || escaped.length === 0) return '';
  const shown = escaped.slice(0, 5).join(', ') + (escaped.length > 5 ? ', …' : '');
  return ` (NUL or lone surrogates escaped in ${shown})`;
}

export function describe(event: RunEvent | { type: 'run.created' }, next: RunSnapshot): string {
  const step = currentStep(next);
  switch (event.type) {
    case 'run.created':
      return 'Run created';
    case 'capabilities.reported':
      return `Capabilities reported (confidence ${event.confidence.toFixed(2)})`;
    case 'payload.built':
      return `Payload built with ${event.issues.length} issue(s)`;
    case 'prediction.submitting':
      return `Submitting prediction, attempt ${event.attempt}`;
    case 'prediction.created':
      return `Prediction ${event.prediction_id} created`;
    case 'prediction.succeeded':
      return `Prediction ${event.prediction_id} succeeded${escapedNote(event.escaped)}`;
    case 'prediction.failed':
      return `Prediction ${event.prediction_id} ${event.status}: ${event.message}${escapedNote(event.escaped)}`;
    case 'prediction.error':
      return `Prediction error (${event.code}): ${event.message}`;
    case 'approval.expired':
      return `Approval ${event.approval_id} expired`;
    case 'provider.failed':
      return next.context.work_retry_at
        ? `Provider ${event.work} failed (attempt ${event.attempt}), retrying at ${next.context.work_retry_at}: ${event.message}`
        : `Provider ${event.work} failed (attempt ${event.attempt}), giving up: ${event.message}`;
    case 'provider.retrying':
      return `Retrying provider ${event.work}, attempt ${event.attempt}`;
    case 'run.paused':
      return 'Run paused';
    case 'run.resumed':
      return 'Run resumed';
    case 'run.cancelled':
      return event.reason ? `Run cancelled: ${event.reason}` : 'Run cancelled';
    case 'run.recovered':
      return `Run recovered by ${event.node}`;
    default: {
      // The checkpoint decided, not the step the run moved on to (`approve at payload_review`).
      const decided = next.context.approvals.find((a) => a.approval_id === event.approval_id);
      const at = decided?.checkpoint_type ?? step;
      return `${event.type.replace('review.', '')} at ${at} by ${event.actor}`;
    }
  }
}

/** Facts that follow from a transition and are logged after its event (derived rows, never replayed). */
export function derivedFacts(prev: RunSnapshot, next: RunSnapshot, event: RunEvent): Fact[] {
  const facts: Fact[] = [];
  const before = openApproval(prev.context);
  const after = openApproval(next.context);
  if (after && after.approval_id !== before?.approval_id) {
    facts.push({
      type: 'approval.opened',
      message: `Approval ${after.approval_id} opened (${after.checkpoint_type})`,
      payload: {
        approval_id: after.approval_id,
        checkpoint_type: after.checkpoint_type,
        actions: after.actions,
        expires_at: after.expires_at,
      },
    });
  }
  const status = runStatus(next);
  if (runStatus(prev) !== status) {
    if (status === 'completed') {
      facts.push({
        type: 'run.completed',
        message: 'Run completed',
        payload: { final_result: next.context.final_result },
      });
    } else if (status === 'failed') {
      facts.push({ type: 'run.failed', message: 'Run failed', payload: { error: next.context.error } });
    } else if (status === 'cancelled' && event.type !== 'run.cancelled') {
      facts.push({ type: 'run.cancelled', message: 'Run cancelled', payload: { error: next.context.error } });
    }
  }
  return facts;
}
