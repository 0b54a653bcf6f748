import { z } from 'zod';
import {
  Approval,
  Capabilities,
  HitlConfig,
  Policy,
  ProcessedResponse,
  RunError,
  RunStatus,
  Step,
  ValidationIssue,
} from './schemas.ts';

/**
 * The read side's contracts: the run view, its status, an event row and an approval, as zod
 * schemas (types inferred from them). The runtime builds these shapes; the OpenAPI document
 * describes its responses with them.
 */

const RUN_ID = '69e67806-fd67-4283-a986-f600765f15fb';
const APPROVAL_ID = 'a809dbb2-0552-43e7-b263-36ee7657807d';
/** The effective config of the examples (`require_human` at payload_review). */
export const CONFIG_EXAMPLE = {
  policy: 'require_human',
  allowed_steps: ['payload_review'],
  timeout_seconds: 3600,
  on_timeout: 'expire',
  auto_approve_confidence_threshold: 0.9,
  max_payload_changes: 5,
  review_thresholds: { response_quality_min: 0.7, max_estimated_cost: null },
  max_retries: 3,
  prediction_timeout_seconds: 1800,
  reviewers: { user_ids: ['alice'], roles: ['reviewer'] },
} as const;

/** The echo provider's capabilities (SPEC §5): the examples show an echo run. */
export const ECHO_CAPABILITIES: Capabilities = {
  provider: 'echo',
  model: 'echo',
  version: null,
  schema: { prompt: '', attachments: [] },
  required: [],
  types: { prompt: 'string', attachments: 'array' },
  operation_type: 'echo',
  estimated_cost: 0,
};

export const StepEntry = z.object({
  step: Step,
  status: z.string().describe('completed, awaiting_human, approved, edited, rejected, failed, …'),
  started_at: z.string(),
  ended_at: z.string().nullable(),
  approval_id: z.string().optional(),
  actor: z.string().optional().describe('who decided, for steps a human (or a timeout) closed'),
});
export type StepEntry = z.infer<typeof StepEntry>;

export const PredictionView = z.object({
  id: z.string(),
  status: z.string(),
  created_at: z.string(),
  completed_at: z.string().nullable(),
});
export type PredictionView = z.infer<typeof PredictionView>;

const APPROVAL_EXAMPLE = {
  approval_id: APPROVAL_ID,
  approval_token: APPROVAL_ID,
  run_id: RUN_ID,
  checkpoint_type: 'payload_review',
  context: {
    payload: { prompt: 'Write a haiku about review queues' },
    issues: [],
    estimated_cost: 0,
    changed_fields: 0,
    model: 'echo',
    prompt: 'Write a haiku about review queues',
  },
  actions: ['approve', 'edit', 'reject'],
  user_id: 'alice',
  session_id: 'chat-1',
  reviewers: { user_ids: ['alice'], roles: ['reviewer'] },
  created_at: '2026-11-24T00:39:00.564Z',
  expires_at: '2026-11-24T01:39:00.564Z',
  status: 'pending',
  decision: null,
};

/** One approval, one shape everywhere (run view, approval routes, WebSocket). */
export const ApprovalView = Approval.extend({
  context: z
    .record(z.string(), z.unknown())
    .describe(
      'What the reviewer judges. information_review: capabilities, confidence, signals, prompt, attachments. ' +
        'payload_review: payload, issues, estimated_cost, changed_fields (a count), model, prompt, ' +
        'input_schema (the model’s input schema, when known). ' +
        'error_recovery: error, payload, issues, attempt, prediction, model, prompt, input_schema (when known). ' +
        'response_review: output, quality, signals, urls, payload, completed_at, model, prompt. ' +
        'browser_action_approval: action_description and the caller’s context.',
    ),
}).meta({ id: 'ApprovalView', examples: [APPROVAL_EXAMPLE] });
export type ApprovalView = z.infer<typeof ApprovalView>;

/** Where a run is: the head of both the run view and its status. */
const RunWhere = { run_id: z.string(), status: RunStatus, current_step: Step };
/** When it started, last moved and next expires, and what a reviewer may do now. */
const RunWhen = {
  created_at: z.string(),
  updated_at: z.string(),
  expires_at: z.string().nullable(),
  pending_actions: z.array(z.string()),
};

export const RunStatusView = z
  .object({
    ...RunWhere,
    ...RunWhen,
    approval_id: z.string().nullable(),
    progress: z.object({
      total_steps: z.literal(4),
      completed_steps: z.number().int().min(0).max(4),
      percentage: z.number().min(0).max(100),
      current_step: Step,
      step_history: z.array(StepEntry),
    }),
  })
  .meta({
    id: 'RunStatusView',
    examples: [
      {
        run_id: RUN_ID,
        status: 'awaiting_human',
        current_step: 'payload_review',
        created_at: '2026-11-24T00:39:00.489Z',
        updated_at: '2026-11-24T00:39:00.564Z',
        expires_at: '2026-11-24T01:39:00.564Z',
        pending_actions: ['approve', 'edit', 'reject'],
        approval_id: APPROVAL_ID,
        progress: {
          total_steps: 4,
          completed_steps: 1,
          percentage: 25,
          current_step: 'payload_review',
          step_history: [],
        },
      },
    ],
  });
export type RunStatusView = z.infer<typeof RunStatusView>;

/** `GET /hitl/runs/{id}`: everything about a run as of its `seq`. */
export const RunView = z
  .object({
    ...RunWhere,
    policy: Policy,
    hitl_config: HitlConfig,
    original_input: z.record(z.string(), z.unknown()).describe('the run input, secrets redacted'),
    capabilities: Capabilities.nullable(),
    suggested_payload: z
      .record(z.string(), z.unknown())
      .nullable()
      .describe('the payload that was or will be sent, exactly'),
    validation_issues: z.array(ValidationIssue),
    prediction: PredictionView.nullable(),
    raw_response: z.unknown().describe('the last prediction JSON as received (logs cut to 4 KB)'),
    processed_response: ProcessedResponse.nullable(),
    final_result: z.unknown().describe('the output (approve) or edits.response (edit); null until completed'),
    approval: ApprovalView.nullable(),
    error: RunError.nullable(),
    step_history: z.array(StepEntry),
    ...RunWhen,
    total_execution_time_ms: z.number(),
    human_review_time_ms: z.number(),
    provider_execution_time_ms: z.number(),
    seq: z.number().int(),
  })
  .meta({
    id: 'RunView',
    examples: [
      {
        run_id: RUN_ID,
        status: 'awaiting_human',
        current_step: 'payload_review',
        policy: 'require_human',
        hitl_config: CONFIG_EXAMPLE,
        original_input: {
          prompt: 'Write a haiku about review queues',
          user_id: 'alice',
          session_id: 'chat-1',
          agent_tool_config: { 'echo-agent-tool': {} },
        },
        capabilities: ECHO_CAPABILITIES,
        suggested_payload: { prompt: 'Write a haiku about review queues' },
        validation_issues: [],
        prediction: null,
        raw_response: null,
        processed_response: null,
        final_result: null,
        approval: APPROVAL_EXAMPLE,
        error: null,
        step_history: [
          {
            step: 'created',
            status: 'completed',
            started_at: '2026-11-24T00:39:00.489Z',
            ended_at: '2026-11-24T00:39:00.533Z',
          },
          {
            step: 'payload_review',
            status: 'awaiting_human',
            started_at: '2026-11-24T00:39:00.533Z',
            ended_at: null,
            approval_id: APPROVAL_ID,
          },
        ],
        created_at: '2026-11-24T00:39:00.489Z',
        updated_at: '2026-11-24T00:39:00.564Z',
        expires_at: '2026-11-24T01:39:00.564Z',
        pending_actions: ['approve', 'edit', 'reject'],
        total_execution_time_ms: 1408,
        human_review_time_ms: 1333,
        provider_execution_time_ms: 0,
        seq: 4,
      },
    ],
  });
export type RunView = z.infer<typeof RunView>;

/** One row of a run's event log. */
export const EventRow = z
  .object({
    run_id: z.string(),
    seq: z.number().int().min(1),
    type: z.string().describe('lowercase dot-case: run.created, review.approve, prediction.succeeded, …'),
    step: z.string().describe('the step after the event'),
    status: z.string().describe('the run status after the event'),
    actor: z.string().describe('system, service:<key id>, user:<sub>, system:timeout, provider:<name>'),
    message: z.string(),
    payload: z.record(z.string(), z.unknown()),
    created_at: z.string(),
  })
  .meta({
    id: 'EventRow',
    examples: [
      {
        run_id: RUN_ID,
        seq: 5,
        type: 'review.approve',
        step: 'api_call',
        status: 'running',
        actor: 'user:rita',
        message: 'approve at payload_review by user:rita',
        payload: { approval_id: APPROVAL_ID },
        created_at: '2026-11-24T00:39:03.071Z',
      },
    ],
  });
export type EventRow = z.infer<typeof EventRow>;

/** A row as the log stores it and messages carry it: `derived` marks a fact that follows from the
 *  input before it (e.g. `approval.opened`), skipped on replay. Not in the API's answers. */
export const StoredEventRow = EventRow.extend({ derived: z.boolean() });
export type StoredEventRow = z.infer<typeof StoredEventRow>;
