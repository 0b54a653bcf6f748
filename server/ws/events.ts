import { createLru } from '../../actors/lru.ts';
import type { ApprovalMessage, HostMessage, ResolvedMessage, RunMessage } from '../../actors/run-messages.ts';
import { type Approval, isTerminalStatus, STEP_ORDER } from '../../machines/schemas.ts';
import { isRecord } from '../../machines/values.ts';
import type { StoredEventRow } from '../../machines/view-schemas.ts';
import type { ServerFrame } from './schemas.ts';

/** A server → client frame: `{ type, data }` (replies add `request_id`). */
export type Frame = ServerFrame;

/** `hitl_approval_resolved` data (SPEC §4). */
export type Resolved = ResolvedMessage;
/** One row of a run's event log (SPEC §2.6), as messages carry it. */
export type EventRow = StoredEventRow;

const SUMMARY_BYTES = 4096;

/** A JSON value cut to at most 4 KB of serialised JSON: the value itself, or a truncated preview. */
export function summarize(value: unknown): unknown {
  const json = JSON.stringify(value) ?? 'null';
  if (Buffer.byteLength(json) <= SUMMARY_BYTES) return value;
  // Keep room for the wrapper; cut on characters, then re-check bytes (multi-byte text).
  let preview = json.slice(0, SUMMARY_BYTES - 200);
  while (Buffer.byteLength(JSON.stringify({ truncated: true, preview })) > SUMMARY_BYTES) {
    preview = preview.slice(0, Math.floor(preview.length * 0.9));
  }
  return { truncated: true, preview };
}

function errorOf(row: EventRow): Record<string, unknown> | null {
  if (row.type === 'run.failed') {
    const err = row.payload['error'];
    return isRecord(err) ? err : { message: row.message };
  }
  if (row.type === 'provider.failed') {
    return { code: 'provider_error', message: row.payload['message'] ?? row.message };
  }
  if (row.type === 'prediction.error') {
    return { code: row.payload['code'] ?? 'provider_error', message: row.payload['message'] ?? row.message };
  }
  return null;
}

/** The forward steps, in the machines' order. */
const PIPELINE: readonly string[] = STEP_ORDER;

/**
 * The steps a move from `prev` to `next` completed: `prev`, plus the steps passed without a stop
 * on a forward move (an `auto` run goes from created to payload_review in one event), as in the
 * run view's `step_history`.
 */
export function completedSteps(prev: string, next: string): string[] {
  const from = PIPELINE.indexOf(prev);
  const to = PIPELINE.indexOf(next);
  return from >= 0 && to > from ? PIPELINE.slice(from, to) : [prev];
}

/**
 * The frames of consecutive event rows of one run: a `hitl_status_update` per row, a
 * `hitl_step_completion` per step completed when a row's step differs from the previous row's, a `hitl_error` on
 * `run.failed` / `prediction.error`. `prevStep` is the step of the row before the first one.
 */
export function runFrames(rows: EventRow[], prevStep: string | null): Frame[] {
  const frames: Frame[] = [];
  let prev = prevStep;
  for (const row of rows) {
    frames.push({
      type: 'hitl_status_update',
      data: {
        run_id: row.run_id,
        status: row.status,
        current_step: row.step,
        event_type: row.type,
        message: row.message,
        seq: row.seq,
        timestamp: row.created_at,
      },
    });
    if (prev !== null && row.step !== prev) {
      const result = summarize({
        event_type: row.type,
        actor: row.actor,
        message: row.message,
        payload: row.payload,
      });
      for (const step of completedSteps(prev, row.step)) {
        frames.push({
          type: 'hitl_step_completion',
          data: { run_id: row.run_id, step, result, timestamp: row.created_at },
        });
      }
    }
    const error = errorOf(row);
    if (error) {
      frames.push({
        type: 'hitl_error',
        data: { run_id: row.run_id, error, step: row.step, timestamp: row.created_at },
      });
    }
    prev = row.step;
  }
  return frames;
}

/** `hitl_approval_request`: the approval in its wire shape. */
export function requestFrame(approval: Approval): Frame {
  return { type: 'hitl_approval_request', data: approval };
}

/** `hitl_approval_resolved { approval_id, run_id, action, actor }`. */
export function resolvedFrame(r: Resolved): Frame {
  return {
    type: 'hitl_approval_resolved',
    data: { approval_id: r.approval_id, run_id: r.run_id, action: r.action, actor: r.actor },
  };
}

/** The approval frames of a standalone approval's change (request when it opens, else resolved). */
export function approvalFrames(m: ApprovalMessage): Frame[] {
  if (m.resolved) return [resolvedFrame(m.resolved)];
  return m.approval.status === 'pending' ? [requestFrame(m.approval)] : [];
}

/** Remembers the last step seen per run (bounded), so a message's first row has a previous step. */
export function createStepMemory(max = 10_000) {
  const steps = createLru<string, string>(max);
  return {
    /** The step before this message, then remember the message's last step. */
    advance(m: RunMessage): string | null {
      const prev = steps.get(m.run_id) ?? null;
      if (isTerminalStatus(m.status)) steps.delete(m.run_id);
      else steps.set(m.run_id, m.current_step);
      return prev;
    },
  };
}

export type StepMemory = ReturnType<typeof createStepMemory>;

/**
 * Every server → client frame a host message produces, in order (for the outbound relay).
 * Pass one `StepMemory` for all calls so step completions are detected across messages.
 */
export function relayFramesFor(message: HostMessage, steps?: StepMemory): Frame[] {
  if (message.kind === 'approval') return approvalFrames(message);
  const prev = steps ? steps.advance(message) : null;
  return [
    ...message.resolved.map(resolvedFrame),
    ...runFrames(message.events, prev),
    ...message.opened.map(requestFrame),
  ];
}
