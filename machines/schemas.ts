import { z } from 'zod';

/** Wire vocabulary of SPEC §1, one schema per contract. */
const TERMINAL = ['completed', 'failed', 'cancelled', 'expired'] as const;

export const RunStatus = z.enum(['queued', 'running', 'awaiting_human', 'paused', ...TERMINAL]);
export type RunStatus = z.infer<typeof RunStatus>;
/** The statuses a run ends in; no event follows them. */
export type TerminalStatus = (typeof TERMINAL)[number];
export const TERMINAL_STATUSES: readonly RunStatus[] = TERMINAL;

/** Whether `status` (a run status, or a step) is one a run ends in. */
export function isTerminalStatus(status: string): status is TerminalStatus {
  return (TERMINAL as readonly string[]).includes(status);
}

/** The steps of a run that goes all the way, in order (SPEC §1). */
export const STEP_ORDER = [
  'created',
  'information_review',
  'payload_review',
  'api_call',
  'response_review',
  'completed',
] as const;

/** Where a run is: a step of `STEP_ORDER`, or the step it ended in otherwise. */
export const Step = z.enum([...STEP_ORDER, 'failed', 'cancelled', 'expired']);
export type Step = z.infer<typeof Step>;

export const Policy = z.enum(['auto', 'require_human', 'auto_with_thresholds']);
export type Policy = z.infer<typeof Policy>;

export const ReviewStep = z.enum(['information_review', 'payload_review', 'response_review']);
export type ReviewStep = z.infer<typeof ReviewStep>;

export const CheckpointType = z.enum([
  'information_review',
  'payload_review',
  'error_recovery',
  'response_review',
  'browser_action_approval',
]);
export type CheckpointType = z.infer<typeof CheckpointType>;

export const DecisionAction = z.enum(['approve', 'edit', 'reject', 'retry']);
export type DecisionAction = z.infer<typeof DecisionAction>;

export const ApprovalStatus = z.enum([
  'pending',
  'approved',
  'edited',
  'rejected',
  'retried',
  'expired',
  'cancelled',
]);
export type ApprovalStatus = z.infer<typeof ApprovalStatus>;

export const Severity = z.enum(['error', 'warning', 'info']);
export type Severity = z.infer<typeof Severity>;

export const Reviewers = z.strictObject({
  user_ids: z.array(z.string()).default([]),
  roles: z.array(z.string()).default(['reviewer']),
});
export type Reviewers = z.infer<typeof Reviewers>;

/** HITLConfig as callers send it: every key optional, unknown keys refused (SPEC §2.1). */
export const HitlConfigInput = z.strictObject({
  policy: Policy.optional(),
  allowed_steps: z.array(ReviewStep).optional(),
  timeout_seconds: z
    .number()
    .int()
    .positive()
    .max(30 * 24 * 3600)
    .optional(),
  on_timeout: z.enum(['expire', 'approve', 'reject']).optional(),
  auto_approve_confidence_threshold: z.number().min(0).max(1).optional(),
  max_payload_changes: z.number().int().min(0).optional(),
  review_thresholds: z
    .strictObject({
      response_quality_min: z.number().min(0).max(1).optional(),
      max_estimated_cost: z.number().min(0).nullable().optional(),
    })
    .optional(),
  max_retries: z.number().int().min(0).max(20).optional(),
  prediction_timeout_seconds: z
    .number()
    .int()
    .positive()
    .max(7 * 24 * 3600)
    .optional(),
  reviewers: z
    .strictObject({ user_ids: z.array(z.string()).optional(), roles: z.array(z.string()).optional() })
    .optional(),
});
export type HitlConfigInput = z.infer<typeof HitlConfigInput>;

/** The effective config: defaults filled in (what responses echo). */
export const HitlConfig = z.strictObject({
  policy: Policy,
  allowed_steps: z.array(ReviewStep),
  timeout_seconds: z.number(),
  on_timeout: z.enum(['expire', 'approve', 'reject']),
  auto_approve_confidence_threshold: z.number(),
  max_payload_changes: z.number(),
  review_thresholds: z.strictObject({
    response_quality_min: z.number(),
    max_estimated_cost: z.number().nullable(),
  }),
  max_retries: z.number(),
  prediction_timeout_seconds: z.number(),
  reviewers: z.strictObject({ user_ids: z.array(z.string()), roles: z.array(z.string()) }),
});
export type HitlConfig = z.infer<typeof HitlConfig>;

/** Fill the defaults of SPEC §2.1; `base` carries endpoint defaults (e.g. /teams/run-hitl). */
export function effectiveConfig(
  input: HitlConfigInput | undefined,
  userId: string | null,
  base: HitlConfigInput = {},
): HitlConfig {
  const merged = { ...base, ...(input ?? {}) };
  return {
    policy: merged.policy ?? 'auto',
    allowed_steps: merged.allowed_steps ?? ['information_review', 'payload_review', 'response_review'],
    timeout_seconds: merged.timeout_seconds ?? 3600,
    on_timeout: merged.on_timeout ?? 'expire',
    auto_approve_confidence_threshold: merged.auto_approve_confidence_threshold ?? 0.9,
    max_payload_changes: merged.max_payload_changes ?? 5,
    review_thresholds: {
      response_quality_min: merged.review_thresholds?.response_quality_min ?? 0.7,
      max_estimated_cost: merged.review_thresholds?.max_estimated_cost ?? null,
    },
    max_retries: merged.max_retries ?? 3,
    prediction_timeout_seconds: merged.prediction_timeout_seconds ?? 1800,
    reviewers: {
      user_ids: merged.reviewers?.user_ids ?? (userId ? [userId] : []),
      roles: merged.reviewers?.roles ?? ['reviewer'],
    },
  };
}

export const ValidationIssue = z.object({
  field: z.string(),
  issue: z.string(),
  severity: Severity,
  suggested_fix: z.string().nullable(),
  auto_fixable: z.boolean(),
});
export type ValidationIssue = z.infer<typeof ValidationIssue>;

/**
 * A model's input schema (Replicate: the version's openapi `Input`, references resolved, long
 * texts other than descriptions dropped): what every payload is validated against.
 */
export const InputSchema = z.object({
  properties: z.record(z.string(), z.record(z.string(), z.unknown())),
  required: z.array(z.string()),
});
export type InputSchema = z.infer<typeof InputSchema>;

/** What information review shows about the model's inputs before the payload is built. */
export const SchemaSummary = z.object({
  /** Where the schema came from: `example_input`, the version's `openapi_schema`, both, or none. */
  source: z.enum(['example_input', 'openapi_schema', 'example_input+openapi_schema', 'none']),
  required: z.array(z.string()),
  media_fields: z.array(z.string()),
  prompt_field: z.string().nullable(),
  /** Each attachment (index into the run's attachments, or a URL found in the prompt) and its field. */
  attachments: z.array(
    z.object({
      index: z.number().int(),
      from: z.enum(['attachments', 'prompt']),
      field: z.string().nullable(),
    }),
  ),
  /** Field → the values it takes, in words (e.g. "an integer from 3 to 12"). */
  constraints: z.record(z.string(), z.string()),
});
export type SchemaSummary = z.infer<typeof SchemaSummary>;

export const Capabilities = z.object({
  provider: z.string(),
  model: z.string().nullable(),
  version: z.string().nullable(),
  /** The input schema: the model's example_input (field → example value), or derived from openapi. */
  schema: z.record(z.string(), z.unknown()).nullable(),
  /** Fields the schema marks required (from openapi), if known. */
  required: z.array(z.string()).default([]),
  /** Field → JSON type name ('string', 'number', 'integer', 'boolean', 'array', 'object') when known. */
  types: z.record(z.string(), z.string()).default({}),
  operation_type: z.string(),
  estimated_cost: z.number().nullable(),
  /** The model's own input schema (Replicate openapi), when known: validation follows it. */
  input_schema: InputSchema.nullable().optional(),
  schema_summary: SchemaSummary.optional(),
});
export type Capabilities = z.infer<typeof Capabilities>;

export const ProcessedResponse = z.object({
  output: z.unknown(),
  urls: z.array(z.string()),
  text: z.string().nullable(),
  quality: z.number(),
  signals: z.record(z.string(), z.boolean()),
});
export type ProcessedResponse = z.infer<typeof ProcessedResponse>;

export const RunError = z.object({
  code: z.string(),
  message: z.string(),
  step: Step,
  retryable: z.boolean(),
});
export type RunError = z.infer<typeof RunError>;

export const Decision = z.object({
  action: z.union([DecisionAction, z.enum(['expired', 'cancelled'])]),
  edits: z.record(z.string(), z.unknown()).optional(),
  reason: z.string().optional(),
  actor: z.string(),
  on_behalf_of: z.string().optional(),
  client_timestamp: z.string().optional(),
  decided_at: z.string(),
});
export type Decision = z.infer<typeof Decision>;

/** The approval as it lives in the run machine's context (the wire shape adds context/ids at the edge). */
export const ApprovalRecord = z.object({
  approval_id: z.string(),
  checkpoint_type: CheckpointType,
  actions: z.array(DecisionAction),
  created_at: z.string(),
  expires_at: z.string(),
  status: ApprovalStatus,
  decision: Decision.nullable(),
});
export type ApprovalRecord = z.infer<typeof ApprovalRecord>;

const { approval_id, checkpoint_type, actions, ...lifecycle } = ApprovalRecord.shape;

/** One approval, one shape everywhere (SPEC §2.4): the record, with its run, people and context. */
export const Approval = z.object({
  approval_id,
  approval_token: z.string(),
  run_id: z.string().nullable(),
  checkpoint_type,
  context: z.record(z.string(), z.unknown()),
  actions,
  user_id: z.string().nullable(),
  session_id: z.string().nullable(),
  reviewers: z.object({ user_ids: z.array(z.string()), roles: z.array(z.string()) }),
  ...lifecycle,
});
export type Approval = z.infer<typeof Approval>;
