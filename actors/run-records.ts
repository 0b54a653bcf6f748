import { openApproval } from '../machines/run-context.ts';
import type { RunCreated, RunEvent } from '../machines/run-events.ts';
import { derivedFacts, describe, type Fact } from '../machines/run-facts.ts';
import { RUN_MACHINE_VERSION } from '../machines/run-machine.ts';
import { persistedSnapshot } from '../machines/run-replay.ts';
import { currentStep, type RunSnapshot, runStatus } from '../machines/run-state.ts';
import { approvalView, runView } from '../machines/run-view.ts';
import type { ApprovalRow, EventRow, SnapshotEnvelope } from '../persistence/types.ts';
import type { RunMessage } from './run-messages.ts';

/** Pure translation of a transition into the rows the host stores and publishes. */

/**
 * The stored form of a snapshot. Not deep-copied through JSON (`persisted` does that, for
 * comparisons): the envelope is only ever serialised (Postgres, the cache), never mutated, and
 * the persisted snapshot shares the (immutable) context of the live one.
 */
export function envelopeOf(snapshot: RunSnapshot): SnapshotEnvelope {
  return {
    machine_version: RUN_MACHINE_VERSION,
    snapshot: persistedSnapshot(snapshot),
  };
}

/** The input row plus the derived fact rows of one transition, numbered from `seq`. */
export function rowsFor(
  prev: RunSnapshot | null,
  next: RunSnapshot,
  event: RunEvent | RunCreated,
  seq: number,
): EventRow[] {
  const runId = next.context.run_id;
  const step = currentStep(next);
  const status = runStatus(next);
  // Each row written out in full: on Node 20, `{ ...shared, more }` costs microseconds per call
  // (the clone of a literal's map gets no cached transitions), and this runs for every event.
  const rows: EventRow[] = [
    {
      run_id: runId,
      step,
      status,
      created_at: event.at,
      seq,
      type: event.type,
      actor: event.actor,
      message: describe(event, next),
      payload: event,
      derived: false,
    },
  ];
  if (prev && event.type !== 'run.created') {
    for (const fact of derivedFacts(prev, next, event)) {
      rows.push({
        run_id: runId,
        step,
        status,
        created_at: event.at,
        seq: seq + rows.length,
        type: fact.type,
        actor: 'system',
        message: fact.message,
        payload: fact.payload,
        derived: true,
      });
    }
  }
  return rows;
}

/** Derived audit rows of the runtime's own work (no transition), numbered from `seq`. */
export function auditRows(snapshot: RunSnapshot, facts: Fact[], seq: number, at: string): EventRow[] {
  const base = {
    run_id: snapshot.context.run_id,
    step: currentStep(snapshot),
    status: runStatus(snapshot),
    created_at: at,
    actor: 'system',
    derived: true,
  };
  return facts.map((f, i) => ({
    ...base,
    seq: seq + i,
    type: f.type,
    message: f.message,
    payload: f.payload,
  }));
}

/** Approval rows whose content changed between two snapshots (all of them when `prev` is null). */
export function changedApprovals(
  prev: RunSnapshot | null,
  next: RunSnapshot,
  createdBy: string,
): ApprovalRow[] {
  const ctx = next.context;
  const before = new Map((prev?.context.approvals ?? []).map((a) => [a.approval_id, a]));
  // Records are immutable: the same object is unchanged (no serialisation to tell, as a rule).
  const changed = (a: (typeof ctx.approvals)[number]) => {
    const b = before.get(a.approval_id);
    return b !== a && (b === undefined || JSON.stringify(b) !== JSON.stringify(a));
  };
  return ctx.approvals.filter(changed).map((a) => ({
    approval_id: a.approval_id,
    run_id: ctx.run_id,
    status: a.status,
    checkpoint_type: a.checkpoint_type,
    user_id: ctx.user_id,
    session_id: ctx.session_id,
    created_by: createdBy,
    created_at: a.created_at,
    expires_at: a.expires_at,
    approval: approvalView(ctx, a),
    envelope: null,
    version: 0,
  }));
}

/** The message subscribers get for a committed change. */
export function messageFor(
  node: string,
  prev: RunSnapshot | null,
  next: RunSnapshot,
  rows: EventRow[],
  createdBy: string,
): RunMessage {
  const ctx = next.context;
  const prevOpen = prev ? openApproval(prev.context) : null;
  const nextOpen = openApproval(ctx);
  const opened =
    nextOpen && nextOpen.approval_id !== prevOpen?.approval_id ? [approvalView(ctx, nextOpen)] : [];
  const resolved: RunMessage['resolved'] = [];
  if (prevOpen && prevOpen.approval_id !== nextOpen?.approval_id) {
    const closed = ctx.approvals.find((a) => a.approval_id === prevOpen.approval_id);
    resolved.push({
      approval_id: prevOpen.approval_id,
      run_id: ctx.run_id,
      action: closed?.decision?.action ?? 'cancelled',
      actor: closed?.decision?.actor ?? 'system',
    });
  }
  return {
    kind: 'run',
    node,
    run_id: ctx.run_id,
    user_id: ctx.user_id,
    session_id: ctx.session_id,
    created_by: createdBy,
    status: runStatus(next),
    current_step: currentStep(next),
    seq: rows[rows.length - 1]?.seq ?? 0,
    events: rows,
    opened,
    resolved,
    reviewers: ctx.config.reviewers,
    has_approvals: ctx.approvals.length > 0,
  };
}

/** The view as stored with a commit (waiting times counted up to the event's time). */
export function storedView(next: RunSnapshot, seq: number, at: string): Record<string, unknown> {
  return runView(next, { seq, updated_at: at, now: at });
}
