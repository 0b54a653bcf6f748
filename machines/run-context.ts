import type { RunCreated } from './run-events.ts';
import type {
  ApprovalRecord,
  Capabilities,
  CheckpointType,
  DecisionAction,
  HitlConfig,
  ProcessedResponse,
  RunError,
  ValidationIssue,
} from './schemas.ts';
import type { PredictionView, StepEntry } from './view-schemas.ts';

export type { StepEntry };

/** Everything the run knows; JSON-safe (no undefined, no Dates) so replay compares exactly. */
export interface RunContext {
  run_id: string;
  config: HitlConfig;
  user_id: string | null;
  session_id: string | null;
  provider: string;
  tool_key: string;
  original_input: Record<string, unknown>;
  request: RunCreated['request'];
  created_at: string;
  paused: boolean;
  capabilities: Capabilities | null;
  confidence: number | null;
  info_signals: Record<string, boolean> | null;
  payload: Record<string, unknown> | null;
  issues: ValidationIssue[];
  changed_fields: number;
  /** Submission attempts so far (the number logged with `prediction.submitting`). */
  attempt: number;
  /** Automatic retries since the last human decision. */
  auto_retries: number;
  retry_at: string | null;
  /** Failed calls of the provider step now running (capabilities or payload); 0 after a success. */
  work_failures: number;
  /** When that step is tried again (a durable `step_retry` timer), or null. */
  work_retry_at: string | null;
  prediction: PredictionView | null;
  raw_response: unknown;
  processed_response: ProcessedResponse | null;
  final_result: unknown;
  error: RunError | null;
  /** Every approval of the run, oldest first; at most the last one is pending. */
  approvals: ApprovalRecord[];
  step_history: StepEntry[];
  provider_ms: number;
  ended_at: string | null;
}

/**
 * The actions each checkpoint offers (SPEC §2.2). Actions that would send the payload as it is
 * (payload approve, error_recovery retry) are offered only without `error` issues.
 */
export function actionsFor(checkpoint: CheckpointType, ctx: RunContext): DecisionAction[] {
  switch (checkpoint) {
    case 'information_review':
      return ['approve', 'edit', 'reject'];
    case 'payload_review':
      return hasErrors(ctx.issues) ? ['edit', 'reject'] : ['approve', 'edit', 'reject'];
    case 'error_recovery':
      return hasErrors(ctx.issues) ? ['edit', 'reject'] : ['edit', 'retry', 'reject'];
    case 'response_review':
      return ['approve', 'edit', 'retry', 'reject'];
    default:
      return ['approve', 'reject'];
  }
}

export function hasErrors(issues: ValidationIssue[]): boolean {
  return issues.some((i) => i.severity === 'error');
}

/** The pending approval, if any. */
export function openApproval(ctx: RunContext): ApprovalRecord | null {
  const last = ctx.approvals[ctx.approvals.length - 1];
  return last && last.status === 'pending' ? last : null;
}

export function addSeconds(iso: string, seconds: number): string {
  return new Date(Date.parse(iso) + seconds * 1000).toISOString();
}

export function addMs(iso: string, ms: number): string {
  return new Date(Date.parse(iso) + ms).toISOString();
}
