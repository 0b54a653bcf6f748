import { describe, expect, it } from 'vitest';
import type { ApprovalMessage, RunMessage } from '../../actors/run-messages.ts';
import type { Approval } from '../../machines/schemas.ts';
import {
  completedSteps,
  createStepMemory,
  relayFramesFor,
  runFrames,
  summarize,
} from '../../server/ws/events.ts';

const RUN = '11111111-1111-4111-8111-111111111111';
type Row = RunMessage['events'][number];

function row(
  seq: number,
  type: string,
  step: string,
  status = 'running',
  payload: Record<string, unknown> = {},
): Row {
  return {
    run_id: RUN,
    seq,
    type,
    step,
    status,
    actor: 'system',
    message: `${type} message`,
    payload,
    created_at: `2026-01-01T00:00:0${seq}.000Z`,
    derived: false,
  };
}

function message(rows: Row[], extra: Partial<RunMessage> = {}): RunMessage {
  const last = rows[rows.length - 1] as Row;
  return {
    kind: 'run',
    node: 'n1',
    run_id: RUN,
    user_id: 'u1',
    session_id: 's1',
    created_by: 'service:abc',
    status: last.status,
    current_step: last.step,
    seq: last.seq,
    events: rows,
    opened: [],
    resolved: [],
    reviewers: { user_ids: ['u1'], roles: ['reviewer'] },
    ...extra,
  };
}

const approval: Approval = {
  approval_id: 'a1',
  approval_token: 'a1',
  run_id: null,
  checkpoint_type: 'browser_action_approval',
  context: {},
  actions: ['approve', 'reject'],
  user_id: 'u1',
  session_id: null,
  reviewers: { user_ids: ['u1'], roles: [] },
  created_at: '2026-01-01T00:00:00.000Z',
  expires_at: '2026-01-01T01:00:00.000Z',
  status: 'pending',
  decision: null,
};

describe('run frames', () => {
  it('sends one hitl_status_update per row with the wire fields', () => {
    const [f] = runFrames([row(3, 'payload.built', 'payload_review', 'awaiting_human')], 'payload_review');
    expect(f).toEqual({
      type: 'hitl_status_update',
      data: {
        run_id: RUN,
        status: 'awaiting_human',
        current_step: 'payload_review',
        event_type: 'payload.built',
        message: 'payload.built message',
        seq: 3,
        timestamp: '2026-01-01T00:00:03.000Z',
      },
    });
  });

  it('completes the previous step (and the steps passed without a stop) when the step changes', () => {
    const frames = runFrames(
      [row(2, 'capabilities.reported', 'payload_review'), row(3, 'x', 'payload_review')],
      'created',
    );
    expect(frames.map((f) => [f.type, f.data['step'] ?? f.data['seq']])).toEqual([
      ['hitl_status_update', 2],
      ['hitl_step_completion', 'created'],
      ['hitl_step_completion', 'information_review'],
      ['hitl_status_update', 3],
    ]);
    expect(completedSteps('response_review', 'api_call')).toEqual(['response_review']);
    expect(completedSteps('api_call', 'failed')).toEqual(['api_call']);
    expect(runFrames([row(1, 'run.created', 'created')], null).map((f) => f.type)).toEqual([
      'hitl_status_update',
    ]);
  });

  it('sends hitl_error on run.failed and prediction.error rows', () => {
    const failed = runFrames(
      [
        row(7, 'run.failed', 'failed', 'failed', {
          error: { code: 'provider_failed', message: 'boom', step: 'api_call' },
        }),
      ],
      'failed',
    );
    expect(failed[1]).toEqual({
      type: 'hitl_error',
      data: {
        run_id: RUN,
        error: { code: 'provider_failed', message: 'boom', step: 'api_call' },
        step: 'failed',
        timestamp: '2026-01-01T00:00:07.000Z',
      },
    });
    const error = runFrames(
      [row(5, 'prediction.error', 'api_call', 'running', { code: 'rate_limited', message: '429' })],
      'api_call',
    );
    expect(error[1]?.data['error']).toEqual({ code: 'rate_limited', message: '429' });
  });

  it('cuts a step result summary to 4 KB of JSON', () => {
    expect(summarize({ small: true })).toEqual({ small: true });
    const big = summarize({ text: 'é'.repeat(20_000) });
    expect(Buffer.byteLength(JSON.stringify(big))).toBeLessThanOrEqual(4096);
    expect(big).toMatchObject({ truncated: true });
  });
});

describe('relayFramesFor', () => {
  it('maps a run message to resolved, status, step and request frames, remembering steps across messages', () => {
    const steps = createStepMemory();
    relayFramesFor(message([row(1, 'run.created', 'created', 'queued')]), steps);
    const opened = { ...approval, approval_id: 'a2', approval_token: 'a2', run_id: RUN };
    const frames = relayFramesFor(
      message([row(2, 'capabilities.reported', 'information_review', 'awaiting_human')], {
        opened: [opened],
        resolved: [{ approval_id: 'a0', run_id: RUN, action: 'approve', actor: 'user:u1' }],
      }),
      steps,
    );
    expect(frames.map((f) => f.type)).toEqual([
      'hitl_approval_resolved',
      'hitl_status_update',
      'hitl_step_completion',
      'hitl_approval_request',
    ]);
    expect(frames[2]?.data['step']).toBe('created');
  });

  it('maps a standalone approval to a request when it opens and to resolved when it is decided', () => {
    const opened: ApprovalMessage = {
      kind: 'approval',
      node: 'n',
      approval,
      created_by: 'service:abc',
      resolved: null,
    };
    expect(relayFramesFor(opened)).toEqual([{ type: 'hitl_approval_request', data: approval }]);
    const resolved = { approval_id: 'a1', run_id: null, action: 'reject', actor: 'user:u1' };
    const decided: ApprovalMessage = { ...opened, approval: { ...approval, status: 'rejected' }, resolved };
    expect(relayFramesFor(decided)).toEqual([{ type: 'hitl_approval_resolved', data: resolved }]);
  });
});
