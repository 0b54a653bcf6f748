import { hasErrors, type RunContext } from './run-context.ts';

/** SPEC §2.3, row information_review. */
export function stopsAtInformation(ctx: RunContext): boolean {
  const { policy, allowed_steps, auto_approve_confidence_threshold } = ctx.config;
  if (policy === 'require_human') return allowed_steps.includes('information_review');
  if (policy === 'auto_with_thresholds') return (ctx.confidence ?? 0) < auto_approve_confidence_threshold;
  return false;
}

/** SPEC §2.3, row payload_review: an `error` issue stops the run under every policy. */
export function stopsAtPayload(ctx: RunContext): boolean {
  if (hasErrors(ctx.issues)) return true;
  const { policy, allowed_steps, max_payload_changes, review_thresholds } = ctx.config;
  if (policy === 'require_human') return allowed_steps.includes('payload_review');
  if (policy === 'auto_with_thresholds') {
    if (ctx.changed_fields > max_payload_changes) return true;
    const cost = ctx.capabilities?.estimated_cost ?? null;
    const max = review_thresholds.max_estimated_cost;
    return cost !== null && max !== null && cost > max;
  }
  return false;
}

/** SPEC §2.3, row response_review. */
export function stopsAtResponse(ctx: RunContext): boolean {
  const { policy, allowed_steps, review_thresholds } = ctx.config;
  if (policy === 'require_human') return allowed_steps.includes('response_review');
  if (policy === 'auto_with_thresholds') {
    return (ctx.processed_response?.quality ?? 0) < review_thresholds.response_quality_min;
  }
  return false;
}

/** Delay before automatic submission retry `n` (1-based): exponential, at least Retry-After, capped. */
export function retryDelayMs(n: number, retryAfterMs: number | null): number {
  const backoff = Math.min(1000 * 2 ** (n - 1), 60_000);
  return Math.max(backoff, retryAfterMs ?? 0);
}
