import { z } from 'zod';
import {
  BuiltPayload as MachineBuiltPayload,
  CapabilityReport as MachineCapabilityReport,
  type RunRequest,
} from '../../machines/run-events.ts';
import type { Capabilities, ProcessedResponse } from '../../machines/schemas.ts';

/** What a provider needs to know about the run's request: the run's `request` (secrets already redacted). */
export type ProviderRequest = RunRequest;

/** The machine's `CapabilityReport`, with the four signals of SPEC §2.2 step 1 named. */
export const CapabilityReport = MachineCapabilityReport.extend({
  signals: z.object({
    model_identified: z.boolean(),
    schema_present: z.boolean(),
    prompt_placed: z.boolean(),
    attachments_placed: z.boolean(),
  }),
});
export type CapabilityReport = z.infer<typeof CapabilityReport>;

/** The machine's `BuiltPayload`, plus where the prompt and attachments went (to count changed fields). */
export const BuiltPayload = MachineBuiltPayload.extend({
  prompt_field: z.string().nullable(),
  attachment_fields: z.array(z.string()),
});
export type BuiltPayload = z.infer<typeof BuiltPayload>;

export interface PredictionRef {
  id: string;
  status: string;
  created_at: string;
  raw: unknown;
  /** Set when the prediction already finished at submit (echo; Replicate with `Prefer: wait`). */
  final?: PredictionState;
}

/** A provider's view of a prediction. `status` uses Replicate's words. */
export interface PredictionState {
  id: string;
  status: 'starting' | 'processing' | 'succeeded' | 'failed' | 'canceled';
  output: unknown;
  error: unknown;
  completed_at: string | null;
  /** The prediction JSON as received, logs cut to 4 KB. */
  raw: unknown;
}

export type ProviderErrorKind =
  /** 429: surely created nothing; retry after `retryAfterMs`. */
  | 'rate_limited'
  /** The connection was refused: surely created nothing. */
  | 'connection_refused'
  /** 422 from the model: the input is invalid; a human may edit the payload. */
  | 'validation'
  /** 5xx or a timeout on submit: a prediction may or may not exist. */
  | 'outcome_unknown'
  /** Anything else (401, 404, ...): not retryable automatically. */
  | 'provider_error';

/** The one error type providers throw. Messages never contain secrets. */
export class ProviderError extends Error {
  override readonly name = 'ProviderError';
  constructor(
    readonly kind: ProviderErrorKind,
    message: string,
    readonly status: number | null = null,
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
  }
}

export interface SubmitOptions {
  /** When set, ask the provider to call this URL on completion. */
  webhook?: string;
}

/** The operations every provider implements, as listed by `GET /hitl/providers`. */
export const PROVIDER_OPERATIONS = [
  'capabilities',
  'build_payload',
  'validate_payload',
  'submit',
  'poll',
  'cancel',
  'process_output',
] as const;

/** SPEC §5: capabilities, build, validate, submit, poll, cancel, process output, estimate cost. */
export interface Provider {
  readonly name: 'replicate' | 'echo';
  readonly tools: string[];
  readonly operations: string[];
  configured(): boolean;
  capabilities(req: ProviderRequest): Promise<CapabilityReport>;
  /** The same report when it needs no I/O (else null): the host then logs it in the commit that
   *  created the run instead of a commit of its own (SPEC §8 commit model). */
  capabilitiesNow?(req: ProviderRequest): CapabilityReport | null;
  buildPayload(req: ProviderRequest, caps: Capabilities): BuiltPayload;
  /** Re-validate a (possibly edited) payload. */
  validatePayload(req: ProviderRequest, caps: Capabilities, payload: Record<string, unknown>): BuiltPayload;
  submit(caps: Capabilities, payload: Record<string, unknown>, opts?: SubmitOptions): Promise<PredictionRef>;
  poll(predictionId: string): Promise<PredictionState>;
  /** Ask the provider to cancel; answers the prediction as it is now (already finished, or canceled). */
  cancel(predictionId: string): Promise<PredictionState>;
  processOutput(state: PredictionState): ProcessedResponse;
  estimateCost(req: ProviderRequest): number | null;
}
