import { openApproval, type RunContext } from './run-context.ts';
import { currentStep, type RunSnapshot, runStatus } from './run-state.ts';
import type { ApprovalRecord, Step } from './schemas.ts';
import type { ApprovalView, RunStatusView, RunView } from './view-schemas.ts';

/** What a reviewer must judge at each checkpoint (SPEC §2.4 `context`). */
export function approvalContext(ctx: RunContext, record: ApprovalRecord): Record<string, unknown> {
  // What every inbox row summarises a run checkpoint by: the prompt and the model.
  const about = { model: ctx.capabilities?.model ?? null, prompt: ctx.request.prompt };
  // The model's input schema, where known: the console draws the payload as a form from it.
  const schema = ctx.capabilities?.input_schema ? { input_schema: ctx.capabilities.input_schema } : {};
  switch (record.checkpoint_type) {
    case 'information_review':
      return {
        capabilities: ctx.capabilities,
        confidence: ctx.confidence,
        signals: ctx.info_signals,
        prompt: ctx.request.prompt,
        attachments: ctx.request.attachments,
      };
    case 'payload_review':
      return {
        payload: ctx.payload,
        issues: ctx.issues,
        estimated_cost: ctx.capabilities?.estimated_cost ?? null,
        changed_fields: ctx.changed_fields,
        ...schema,
        ...about,
      };
    case 'error_recovery':
      return {
        error: ctx.error,
        payload: ctx.payload,
        issues: ctx.issues,
        attempt: ctx.attempt,
        prediction: ctx.prediction,
        estimated_cost: ctx.capabilities?.estimated_cost ?? null,
        ...schema,
        ...about,
      };
    case 'response_review':
      return {
        output: ctx.processed_response?.output ?? null,
        quality: ctx.processed_response?.quality ?? null,
        signals: ctx.processed_response?.signals ?? null,
        urls: ctx.processed_response?.urls ?? [],
        payload: ctx.payload,
        completed_at: ctx.prediction?.completed_at ?? null,
        estimated_cost: ctx.capabilities?.estimated_cost ?? null,
        ...about,
      };
    default:
      return {};
  }
}

/** An approval of a run in its wire shape (SPEC §2.4). */
export function approvalView(ctx: RunContext, record: ApprovalRecord): ApprovalView {
  return {
    approval_id: record.approval_id,
    approval_token: record.approval_id,
    run_id: ctx.run_id,
    checkpoint_type: record.checkpoint_type,
    context: approvalContext(ctx, record),
    actions: record.status === 'pending' ? record.actions : [],
    user_id: ctx.user_id,
    session_id: ctx.session_id,
    reviewers: ctx.config.reviewers,
    created_at: record.created_at,
    expires_at: record.expires_at,
    status: record.status,
    decision: record.decision,
  };
}

function ms(from: string, to: string): number {
  return Math.max(0, Date.parse(to) - Date.parse(from));
}

/** Time spent awaiting humans: closed approvals plus the open one up to `now`. */
export function humanReviewMs(ctx: RunContext, now: string): number {
  return ctx.approvals.reduce((sum, a) => sum + ms(a.created_at, a.decision?.decided_at ?? now), 0);
}

/** The view's fields that count time up to `now` (the rest only changes with a commit). */
export function viewTimes(ctx: RunContext, now: string) {
  const end = ctx.ended_at ?? now;
  return { total_execution_time_ms: ms(ctx.created_at, end), human_review_time_ms: humanReviewMs(ctx, end) };
}

/** The run view of SPEC §2.7, as of the snapshot's `seq`; `now` only counts open waits. */
export function runView(
  snapshot: RunSnapshot,
  meta: { seq: number; updated_at: string; now: string },
): RunView {
  const ctx = snapshot.context;
  const open = openApproval(ctx);
  return {
    run_id: ctx.run_id,
    status: runStatus(snapshot),
    current_step: currentStep(snapshot),
    policy: ctx.config.policy,
    hitl_config: ctx.config,
    original_input: ctx.original_input,
    capabilities: ctx.capabilities,
    suggested_payload: ctx.payload,
    validation_issues: ctx.issues,
    prediction: ctx.prediction,
    raw_response: ctx.raw_response,
    processed_response: ctx.processed_response,
    final_result: ctx.final_result,
    approval: open ? approvalView(ctx, open) : null,
    error: ctx.error,
    step_history: ctx.step_history,
    created_at: ctx.created_at,
    updated_at: meta.updated_at,
    expires_at: open?.expires_at ?? null,
    pending_actions: open?.actions ?? [],
    ...viewTimes(ctx, meta.now),
    provider_execution_time_ms: ctx.provider_ms,
    seq: meta.seq,
  };
}

/** GET /hitl/run/{id}/status: where the run is and what waits for a human, without its data. */
export function statusView(snapshot: RunSnapshot, updated_at: string): RunStatusView {
  const ctx = snapshot.context;
  const open = openApproval(ctx);
  const step = currentStep(snapshot);
  return {
    run_id: ctx.run_id,
    status: runStatus(snapshot),
    current_step: step,
    created_at: ctx.created_at,
    updated_at,
    expires_at: open?.expires_at ?? null,
    pending_actions: open?.actions ?? [],
    approval_id: open?.approval_id ?? null,
    progress: progress(ctx, step),
  };
}

const COUNTED_STEPS = new Set(['information_review', 'payload_review', 'api_call', 'response_review']);
const DONE_STATUSES = new Set(['completed', 'approved', 'edited']);

/** `progress` of GET /hitl/run/{id}/status: never above 100 %. */
export function progress(ctx: RunContext, step: Step): RunStatusView['progress'] {
  const done = new Set(
    ctx.step_history
      .filter((e) => COUNTED_STEPS.has(e.step) && DONE_STATUSES.has(e.status))
      .map((e) => e.step),
  );
  const completed_steps = step === 'completed' ? 4 : Math.min(4, done.size);
  return {
    total_steps: 4 as const,
    completed_steps,
    percentage: Math.min(100, Math.round((completed_steps / 4) * 100)),
    current_step: step,
    step_history: ctx.step_history,
  };
}
