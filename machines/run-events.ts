import { z } from 'zod';
import { Capabilities, HitlConfig, ProcessedResponse, ValidationIssue } from './schemas.ts';

/**
 * Events of the run machine: the same names as the event log (SPEC §2.6).
 * Every event is stamped at the edge with `at` (ISO time), `actor` and a fresh `id`
 * (used as the approval id when the event opens a checkpoint), so the machine stays pure.
 */
const Stamp = {
  at: z.iso.datetime(),
  actor: z.string().min(1),
  id: z.uuid(),
};
/** The stamp every event gets at the edge. */
export const EventStamp = z.object(Stamp);
export type EventStamp = z.infer<typeof EventStamp>;

/** What the run asks a provider for (secrets already redacted). */
export const RunRequest = z.object({
  prompt: z.string(),
  /** `document_url` first, then `attachments`, in order. */
  attachments: z.array(z.string()),
  /** The tool config value for this provider (for Replicate: the model config, `data` unwrapped). */
  model_config: z.record(z.string(), z.unknown()),
});
export type RunRequest = z.infer<typeof RunRequest>;

/** Machine input, logged as the `run.created` row. */
export const RunCreated = z.object({
  type: z.literal('run.created'),
  ...Stamp,
  run_id: z.uuid(),
  config: HitlConfig,
  user_id: z.string().nullable(),
  session_id: z.string().nullable(),
  provider: z.string(),
  tool_key: z.string(),
  original_input: z.record(z.string(), z.unknown()),
  request: RunRequest,
});
export type RunCreated = z.infer<typeof RunCreated>;

export const CapabilityReport = z.object({
  capabilities: Capabilities,
  confidence: z.number().min(0).max(1),
  signals: z.record(z.string(), z.boolean()),
});
export type CapabilityReport = z.infer<typeof CapabilityReport>;

export const BuiltPayload = z.object({
  payload: z.record(z.string(), z.unknown()),
  issues: z.array(ValidationIssue),
  changed_fields: z.number().int().min(0),
});
export type BuiltPayload = z.infer<typeof BuiltPayload>;

/** The provider steps that run before a human or a prediction: their failures are retried. */
export const ProviderWork = z.enum(['capabilities', 'payload']);
export type ProviderWork = z.infer<typeof ProviderWork>;

const DecisionFields = {
  approval_id: z.string(),
  reason: z.string().max(4000).optional(),
  on_behalf_of: z.string().optional(),
  client_timestamp: z.string().optional(),
};
const Edits = z.record(z.string(), z.unknown());

export const RunEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('capabilities.reported'), ...Stamp, ...CapabilityReport.shape }),
  z.object({ type: z.literal('payload.built'), ...Stamp, ...BuiltPayload.shape }),
  z.object({ type: z.literal('review.approve'), ...Stamp, ...DecisionFields }),
  z.object({
    type: z.literal('review.edit'),
    ...Stamp,
    ...DecisionFields,
    edits: Edits,
    /** information_review: the capabilities after the edit, computed at the edge. */
    report: CapabilityReport.optional(),
    /** payload_review / error_recovery: the merged payload, re-validated at the edge. */
    built: BuiltPayload.optional(),
  }),
  z.object({ type: z.literal('review.reject'), ...Stamp, ...DecisionFields }),
  z.object({
    type: z.literal('review.retry'),
    ...Stamp,
    ...DecisionFields,
    edits: Edits.optional(),
    built: BuiltPayload.optional(),
  }),
  z.object({ type: z.literal('approval.expired'), ...Stamp, approval_id: z.string() }),
  z.object({ type: z.literal('prediction.submitting'), ...Stamp, attempt: z.number().int().positive() }),
  z.object({
    type: z.literal('prediction.created'),
    ...Stamp,
    prediction_id: z.string(),
    status: z.string(),
    created_at: z.iso.datetime(),
  }),
  z.object({
    type: z.literal('prediction.succeeded'),
    ...Stamp,
    prediction_id: z.string(),
    completed_at: z.iso.datetime(),
    raw: z.unknown(),
    processed: ProcessedResponse,
    /** Where NUL / lone surrogates in the provider's output were escaped to be storable. */
    escaped: z.array(z.string()).optional(),
  }),
  z.object({
    type: z.literal('prediction.failed'),
    ...Stamp,
    prediction_id: z.string(),
    status: z.enum(['failed', 'canceled']),
    completed_at: z.iso.datetime(),
    message: z.string(),
    raw: z.unknown(),
    escaped: z.array(z.string()).optional(),
  }),
  z.object({
    type: z.literal('prediction.error'),
    ...Stamp,
    code: z.enum([
      'rate_limited',
      'connection_refused',
      'model_validation_error',
      'submission_outcome_unknown',
      'prediction_timeout',
      'provider_error',
    ]),
    message: z.string(),
    retry_after_ms: z.number().int().min(0).nullable(),
  }),
  /** A provider step's call failed (attempt n of 1 + max_retries). */
  z.object({
    type: z.literal('provider.failed'),
    ...Stamp,
    work: ProviderWork,
    attempt: z.number().int().positive(),
    message: z.string(),
  }),
  /** Its backoff passed: the step is tried again (logged before the call, like a submission). */
  z.object({
    type: z.literal('provider.retrying'),
    ...Stamp,
    work: ProviderWork,
    attempt: z.number().int().positive(),
  }),
  z.object({ type: z.literal('run.paused'), ...Stamp, reason: z.string().optional() }),
  z.object({ type: z.literal('run.resumed'), ...Stamp }),
  z.object({ type: z.literal('run.cancelled'), ...Stamp, reason: z.string().optional() }),
  z.object({ type: z.literal('run.recovered'), ...Stamp, node: z.string() }),
]);
export type RunEvent = z.infer<typeof RunEvent>;
export type RunEventType = RunEvent['type'];
