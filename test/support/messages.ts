/** A run message as another node ('node-x') would publish it: no events, no approvals. */
export function runMessage(runId: string, seq: number, extra: Record<string, unknown> = {}) {
  return {
    kind: 'run',
    node: 'node-x',
    run_id: runId,
    user_id: null,
    session_id: null,
    created_by: 'service:x',
    status: 'running',
    current_step: 'api_call',
    seq,
    events: [],
    opened: [],
    resolved: [],
    reviewers: { user_ids: [], roles: [] },
    ...extra,
  };
}
