import type { BuiltPayload, CapabilityReport, RunCreated, RunEvent } from '../../machines/run-events.ts';
import { derivedFacts, type Fact } from '../../machines/run-facts.ts';
import { persisted, startRun, step } from '../../machines/run-replay.ts';
import { type RefusalCode, type RunSnapshot, refusal } from '../../machines/run-state.ts';
import {
  effectiveConfig,
  type HitlConfigInput,
  type ProcessedResponse,
  type Severity,
  type ValidationIssue,
} from '../../machines/schemas.ts';

/** Stamped events and run inputs on a deterministic clock: T0, +1 s per event, counter uuids. */

export const T0 = '2026-01-01T00:00:00.000Z';

type Of<T extends RunEvent['type']> = Extract<RunEvent, { type: T }>;
type Extra = { actor?: string; reason?: string; on_behalf_of?: string };

/** The n-th id, formatted as a version-4 uuid. */
export function uuid(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

/** `seconds` after `iso`. */
export function plus(iso: string, seconds: number): string {
  return new Date(Date.parse(iso) + seconds * 1000).toISOString();
}

export function issue(severity: Severity, field = 'prompt'): ValidationIssue {
  return { field, issue: `${severity} on ${field}`, severity, suggested_fix: null, auto_fixable: false };
}

export function report(confidence = 1, estimated_cost: number | null = 0): CapabilityReport {
  return {
    capabilities: {
      provider: 'replicate',
      model: 'owner/model',
      version: 'v1',
      schema: { prompt: '', steps: 20 },
      required: [],
      types: {},
      operation_type: 'image',
      estimated_cost,
    },
    confidence,
    signals: { model: true, schema: true, prompt: true, attachments: confidence === 1 },
  };
}

export function built(
  payload: Record<string, unknown> = { prompt: 'a cat' },
  issues: ValidationIssue[] = [],
  changed_fields = 0,
): BuiltPayload {
  return { payload, issues, changed_fields };
}

export function processed(output: unknown = ['https://cdn.example/out.png'], quality = 1): ProcessedResponse {
  return { output, urls: [], text: null, quality, signals: { present: quality > 0 } };
}

/** An event builder; every call advances the clock by one second and takes the next id. */
export function runEvents(start = T0) {
  let clock = Date.parse(start);
  let counter = 0;
  const stamp = (actor = 'system') => {
    counter += 1;
    clock += 1000;
    return { at: new Date(clock).toISOString(), actor, id: uuid(counter) };
  };
  const decision = (approval_id: string, extra: Extra) => {
    const { actor = 'user:alice', ...rest } = extra;
    return { ...stamp(actor), approval_id, ...rest };
  };
  return {
    stamp,
    /** The time of the last stamped event. */
    now: () => new Date(clock).toISOString(),
    input(config: HitlConfigInput = {}, prompt = 'a cat'): RunCreated {
      return {
        type: 'run.created',
        ...stamp('service:abcd1234'),
        run_id: uuid(0xfff000),
        config: effectiveConfig(config, 'user-1'),
        user_id: 'user-1',
        session_id: 'session-1',
        provider: 'replicate',
        tool_key: 'replicate-agent-tool',
        original_input: { prompt },
        request: { prompt, attachments: [], model_config: { name: 'owner/model' } },
      };
    },
    capabilities: (r = report()): Of<'capabilities.reported'> => ({
      type: 'capabilities.reported',
      ...stamp('provider:replicate'),
      ...r,
    }),
    built: (b = built()): Of<'payload.built'> => ({
      type: 'payload.built',
      ...stamp('provider:replicate'),
      ...b,
    }),
    approve: (id: string, extra: Extra = {}): Of<'review.approve'> => ({
      type: 'review.approve',
      ...decision(id, extra),
    }),
    reject: (id: string, extra: Extra = {}): Of<'review.reject'> => ({
      type: 'review.reject',
      ...decision(id, extra),
    }),
    edit: (
      id: string,
      edits: Record<string, unknown>,
      more: { report?: CapabilityReport; built?: BuiltPayload } & Extra = {},
    ): Of<'review.edit'> => {
      const { report: r, built: b, ...extra } = more;
      return {
        type: 'review.edit',
        ...decision(id, extra),
        edits,
        ...(r ? { report: r } : {}),
        ...(b ? { built: b } : {}),
      };
    },
    retry: (
      id: string,
      more: { edits?: Record<string, unknown>; built?: BuiltPayload } & Extra = {},
    ): Of<'review.retry'> => {
      const { edits, built: b, ...extra } = more;
      return {
        type: 'review.retry',
        ...decision(id, extra),
        ...(edits ? { edits } : {}),
        ...(b ? { built: b } : {}),
      };
    },
    expired: (approval_id: string): Of<'approval.expired'> => ({
      type: 'approval.expired',
      ...stamp('system:timeout'),
      approval_id,
    }),
    submitting: (attempt: number): Of<'prediction.submitting'> => ({
      type: 'prediction.submitting',
      ...stamp(),
      attempt,
    }),
    created: (prediction_id = 'pred-1'): Of<'prediction.created'> => {
      const s = stamp('provider:replicate');
      return { type: 'prediction.created', ...s, prediction_id, status: 'starting', created_at: s.at };
    },
    succeeded: (prediction_id = 'pred-1', p = processed()): Of<'prediction.succeeded'> => {
      const s = stamp('provider:replicate');
      return {
        type: 'prediction.succeeded',
        ...s,
        prediction_id,
        completed_at: s.at,
        raw: { id: prediction_id },
        processed: p,
      };
    },
    failed: (prediction_id = 'pred-1', status: 'failed' | 'canceled' = 'failed'): Of<'prediction.failed'> => {
      const s = stamp('provider:replicate');
      return {
        type: 'prediction.failed',
        ...s,
        prediction_id,
        status,
        completed_at: s.at,
        message: `it ${status}`,
        raw: {},
      };
    },
    error: (
      code: Of<'prediction.error'>['code'],
      retry_after_ms: number | null = null,
    ): Of<'prediction.error'> => ({
      type: 'prediction.error',
      ...stamp('provider:replicate'),
      code,
      message: `${code} happened`,
      retry_after_ms,
    }),
    providerFailed: (work: 'capabilities' | 'payload', attempt: number): Of<'provider.failed'> => ({
      type: 'provider.failed',
      ...stamp('provider:replicate'),
      work,
      attempt,
      message: `Replicate answered 503 (${attempt})`,
    }),
    providerRetrying: (work: 'capabilities' | 'payload', attempt: number): Of<'provider.retrying'> => ({
      type: 'provider.retrying',
      ...stamp(),
      work,
      attempt,
    }),
    paused: (): Of<'run.paused'> => ({ type: 'run.paused', ...stamp('service:abcd1234') }),
    resumed: (): Of<'run.resumed'> => ({ type: 'run.resumed', ...stamp('service:abcd1234') }),
    cancelled: (reason?: string): Of<'run.cancelled'> => ({
      type: 'run.cancelled',
      ...stamp('service:abcd1234'),
      ...(reason ? { reason } : {}),
    }),
    recovered: (): Of<'run.recovered'> => ({ type: 'run.recovered', ...stamp(), node: 'node-2' }),
  };
}

export type RunEvents = ReturnType<typeof runEvents>;

/** One row of a run's log, as the host writes it. */
export interface LogRow {
  type: string;
  payload: unknown;
  derived: boolean;
}

/** A run driven like the host does: `refusal()` first, then `step()`, logging inputs and derived facts. */
export function createRun(config: HitlConfigInput = {}, ev: RunEvents = runEvents()) {
  const input = ev.input(config);
  let snapshot: RunSnapshot = startRun(input);
  const rows: LogRow[] = [{ type: 'run.created', payload: input, derived: false }];
  const facts: Fact[] = [];
  const run = {
    ev,
    input,
    rows,
    /** Derived facts of every accepted event, in order. */
    facts,
    get snapshot() {
      return snapshot;
    },
    get context() {
      return snapshot.context;
    },
    /** The id of the open approval; throws when none is open. */
    get openId(): string {
      const last = snapshot.context.approvals.at(-1);
      if (last?.status !== 'pending') throw new Error('no open approval');
      return last.approval_id;
    },
    /** Send an event; a refused one changes nothing and its code is returned. */
    send(event: RunEvent): RefusalCode | null {
      const refused = refusal(snapshot, event);
      if (refused) return refused.code;
      const next = step(snapshot, event);
      rows.push({ type: event.type, payload: event, derived: false });
      for (const fact of derivedFacts(snapshot, next, event)) {
        facts.push(fact);
        rows.push({ type: fact.type, payload: fact.payload, derived: true });
      }
      snapshot = next;
      return null;
    },
    /** Send events that must be accepted. */
    accept(...events: RunEvent[]): RunSnapshot {
      for (const event of events) {
        const code = run.send(event);
        if (code) throw new Error(`${event.type} was refused: ${code}`);
      }
      return snapshot;
    },
    /** The persisted JSON of the current snapshot. */
    persisted: () => persisted(snapshot),
  };
  return run;
}

export type Run = ReturnType<typeof createRun>;

/** Where `walkTo` can take a run: `step.phase` of a state, checkpoints named by their step. */
export type Stop =
  | 'information_review.awaitingReview'
  | 'payload_review.building'
  | 'payload_review.awaitingReview'
  | 'api_call.ready'
  | 'api_call.submitting'
  | 'api_call.waiting'
  | 'api_call.backoff'
  | 'api_call.awaitingReview'
  | 'response_review.awaitingReview'
  | 'completed';

/** The value of a snapshot as `step.phase` (or just `step`). */
export function where(snapshot: RunSnapshot): string {
  const value = snapshot.value;
  if (typeof value === 'string') return value;
  return Object.entries(value)
    .map(([k, v]) => `${k}.${String(v)}`)
    .join();
}

/**
 * Drive a run along the happy path (approving every checkpoint it meets) until it is at `stop`.
 * `api_call.backoff` comes from a 429, `api_call.awaitingReview` from a 422 validation error.
 */
export function walkTo(run: Run, stop: Stop): RunSnapshot {
  const { ev } = run;
  for (let i = 0; i < 30 && where(run.snapshot) !== stop; i++) {
    const ctx = run.context;
    const at = where(run.snapshot);
    if (at === 'created') run.accept(ev.capabilities());
    else if (at.endsWith('awaitingReview')) run.accept(ev.approve(run.openId));
    else if (at === 'payload_review.building') run.accept(ev.built());
    else if (at === 'api_call.ready' || at === 'api_call.backoff') run.accept(ev.submitting(ctx.attempt + 1));
    else if (at === 'api_call.submitting' && stop === 'api_call.backoff')
      run.accept(ev.error('rate_limited'));
    else if (at === 'api_call.submitting' && stop === 'api_call.awaitingReview')
      run.accept(ev.error('model_validation_error'));
    else if (at === 'api_call.submitting') run.accept(ev.created(`pred-${ctx.attempt}`));
    else if (at === 'api_call.waiting') run.accept(ev.succeeded(ctx.prediction?.id));
    else throw new Error(`walkTo(${stop}) is stuck at ${at}`);
  }
  if (where(run.snapshot) !== stop) throw new Error(`walkTo(${stop}) ended at ${where(run.snapshot)}`);
  return run.snapshot;
}
