import { randomUUID } from 'node:crypto';
import type { ApprovalRow, CommitInput, EventRow, NewRun, TimerSpec } from '../../persistence/types.ts';

/** An ISO time `ms` from now. */
export const inMs = (ms: number): string => new Date(Date.now() + ms).toISOString();

/** One event row. */
export function eventRow(runId: string, seq: number, type = 'prediction.created'): EventRow {
  return {
    run_id: runId,
    seq,
    type,
    step: 'api_call',
    status: 'running',
    actor: 'system',
    message: `${type} #${seq}`,
    payload: { seq, nested: { list: [1, 'two', null] } },
    created_at: new Date().toISOString(),
    derived: false,
  };
}

/** A new run with one `run.created` event, leased to `owner`. */
export function newRun(
  overrides: Partial<NewRun['record']> & { owner?: string; timers?: TimerSpec[] } = {},
): NewRun {
  const { owner = 'node-a', timers = [], ...record } = overrides;
  const runId = record.run_id ?? randomUUID();
  const now = new Date().toISOString();
  return {
    record: {
      run_id: runId,
      seq: 1,
      status: 'queued',
      current_step: 'created',
      user_id: 'user-1',
      session_id: 'session-1',
      created_by: 'service:0123abcd',
      envelope: { machine_version: 1, snapshot: { value: 'created', context: { n: 0 } } },
      view: { run_id: runId, status: 'queued' },
      created_at: now,
      updated_at: now,
      ...record,
    },
    events: [{ ...eventRow(runId, 1, 'run.created'), step: 'created', status: 'queued' }],
    timers,
    approvals: [],
    owner,
    lease_ms: 30_000,
    work_pending: true,
  };
}

/** A commit of `count` events on top of `expectedSeq`. */
export function commitOf(
  runId: string,
  expectedSeq: number,
  count = 1,
  overrides: Partial<CommitInput> = {},
): CommitInput {
  const events = Array.from({ length: count }, (_, i) => eventRow(runId, expectedSeq + 1 + i));
  return {
    run_id: runId,
    expected_seq: expectedSeq,
    events,
    envelope: { machine_version: 1, snapshot: { value: 'running', context: { n: expectedSeq + count } } },
    view: { run_id: runId, status: 'running', seq: expectedSeq + count },
    status: 'running',
    current_step: 'api_call',
    updated_at: new Date().toISOString(),
    work_pending: true,
    owner: 'node-a',
    lease_ms: 30_000,
    timers: [],
    approvals: [],
    ...overrides,
  };
}

/** A pending approval whose reviewers are `alice` and the role `reviewer`. */
export function approvalRow(overrides: Partial<ApprovalRow> = {}): ApprovalRow {
  const approvalId = overrides.approval_id ?? randomUUID();
  return {
    approval_id: approvalId,
    run_id: null,
    status: 'pending',
    checkpoint_type: 'browser_action_approval',
    user_id: 'user-1',
    session_id: 'session-1',
    created_by: 'service:0123abcd',
    created_at: new Date().toISOString(),
    expires_at: inMs(3_600_000),
    approval: {
      approval_id: approvalId,
      status: 'pending',
      reviewers: { user_ids: ['alice'], roles: ['reviewer'] },
    },
    envelope: { machine_version: 1, snapshot: { value: 'pending' } },
    version: 0,
    ...overrides,
  };
}
