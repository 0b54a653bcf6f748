import { initialTransition, transition } from 'xstate';
import { type ApprovalEvent, DEFAULT_STANDALONE_ACTIONS } from '../machines/approval-events.ts';
import { type ApprovalSnapshot, approvalMachine, checkApprovalEvent } from '../machines/approval-machine.ts';
import type { Approval, DecisionAction } from '../machines/schemas.ts';
import { type ApprovalRow, type DueTimer, StoreError } from '../persistence/types.ts';
import { approvalEnvelope, approvalOf, approvalSnapshot } from './approval-rows.ts';
import { HitlError } from './errors.ts';
import { redact } from './redact.ts';
import type { DecisionRequest } from './run-decide.ts';
import { coreOf, type RunHost } from './run-host.ts';

/** A standalone approval request (SPEC §6). */
export interface StandaloneRequest {
  checkpoint_type: 'browser_action_approval';
  action_description: string;
  context: Record<string, unknown>;
  user_id: string | null;
  session_id: string | null;
  run_id: string | null;
  reviewers?: { user_ids?: string[]; roles?: string[] };
  actions?: DecisionAction[];
  timeout_seconds: number;
}

const ACTION_EVENT = { approve: 'review.approve', edit: 'review.edit', reject: 'review.reject' } as const;

/** Approvals by id: standalone ones (own machine, stored with compare-and-set) and run checkpoints. */
export function createApprovalService(host: RunHost) {
  const core = coreOf(host);
  const store = core.deps.store;

  function wire(row: ApprovalRow, snapshot: ApprovalSnapshot): Approval {
    const base = approvalOf(row);
    const ctx = snapshot.context;
    return {
      ...base,
      actions: ctx.status === 'pending' ? ctx.actions : [],
      status: ctx.status,
      decision: ctx.decision,
    };
  }

  async function create(req: StandaloneRequest, createdBy: string): Promise<Approval> {
    const s = core.stamp(createdBy);
    const expires_at = new Date(Date.parse(s.at) + req.timeout_seconds * 1000).toISOString();
    const actions = req.actions && req.actions.length > 0 ? req.actions : [...DEFAULT_STANDALONE_ACTIONS];
    const [snapshot] = initialTransition(approvalMachine, {
      approval_id: s.id,
      created_at: s.at,
      expires_at,
      actions,
    });
    const approval: Approval = {
      approval_id: s.id,
      approval_token: s.id,
      run_id: req.run_id,
      checkpoint_type: 'browser_action_approval',
      context: redact({ action_description: req.action_description, ...req.context }),
      actions,
      user_id: req.user_id,
      session_id: req.session_id,
      reviewers: {
        user_ids: req.reviewers?.user_ids ?? (req.user_id ? [req.user_id] : []),
        roles: req.reviewers?.roles ?? ['reviewer'],
      },
      created_at: s.at,
      expires_at,
      status: 'pending',
      decision: null,
    };
    const row: ApprovalRow = {
      approval_id: s.id,
      run_id: req.run_id,
      status: 'pending',
      checkpoint_type: 'browser_action_approval',
      user_id: req.user_id,
      session_id: req.session_id,
      created_by: createdBy,
      created_at: s.at,
      expires_at,
      approval,
      envelope: approvalEnvelope(snapshot),
      version: 1,
    };
    await core.storeCall(() =>
      store.createApproval(row, { kind: 'approval_deadline', key: s.id, fire_at: expires_at }),
    );
    await core.publish({
      kind: 'approval',
      node: core.deps.node,
      approval,
      created_by: createdBy,
      resolved: null,
    });
    return approval;
  }

  /** The approval in its wire shape, run checkpoint or standalone, or null. */
  async function get(approvalId: string): Promise<{ approval: Approval; row: ApprovalRow } | null> {
    const row = await core.storeCall(() => store.getApproval(approvalId));
    if (!row) return null;
    if (!row.envelope) return { approval: approvalOf(row), row };
    return { approval: wire(row, approvalSnapshot(row)), row };
  }

  /** Apply an event to a standalone approval with compare-and-set on its version. */
  async function applyStandalone(
    approvalId: string,
    make: (row: ApprovalRow) => ApprovalEvent,
  ): Promise<Approval> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const row = await core.storeCall(() => store.getApproval(approvalId));
      if (!row) throw new HitlError('approval_not_found', `Approval ${approvalId} not found`);
      const snapshot = approvalSnapshot(row);
      const event = make(row);
      const refused = checkApprovalEvent(snapshot, event);
      if (refused) throw new HitlError(refused.code, refused.message);
      const [next] = transition(approvalMachine, snapshot, event);
      const approval = wire(row, next);
      const updated: ApprovalRow = {
        ...row,
        status: next.context.status,
        approval,
        envelope: approvalEnvelope(next),
        version: row.version + 1,
      };
      try {
        await core.storeCall(() => store.updateApproval(updated, row.version), ['version_conflict']);
      } catch (err) {
        if (err instanceof StoreError && err.code === 'version_conflict') continue;
        throw err;
      }
      const decision = next.context.decision;
      await core.publish({
        kind: 'approval',
        node: core.deps.node,
        approval,
        created_by: row.created_by,
        resolved: decision
          ? { approval_id: approvalId, run_id: row.run_id, action: decision.action, actor: decision.actor }
          : null,
      });
      return approval;
    }
    throw new HitlError('conflict', 'The approval changed concurrently; try again');
  }

  /**
   * SPEC §7 (decision retries): an `approval_not_pending` (or `run_terminal`) for an approval that is closed carries
   * its status and decision (`action`, `actor`, `decided_at`), so a client whose request timed out
   * can tell whether it won. Any other error passes unchanged.
   */
  async function explainRefusal(approvalId: string, err: unknown): Promise<never> {
    // A decision that ended its run makes a retry meet `run_terminal` first (the error order):
    // that answer carries the decision too, or the client still could not tell whether it won.
    if (!(err instanceof HitlError) || (err.code !== 'approval_not_pending' && err.code !== 'run_terminal'))
      throw err;
    const closed = await get(approvalId).catch(() => null);
    if (!closed || closed.approval.status === 'pending') throw err;
    const { status, decision } = closed.approval;
    const message =
      err.code === 'run_terminal'
        ? `${err.message}; approval ${approvalId} is ${status}`
        : `Approval ${approvalId} is already ${status}`;
    throw new HitlError(err.code, message, {
      approval_id: approvalId,
      status,
      decision: decision
        ? {
            action: decision.action,
            actor: decision.actor,
            decided_at: decision.decided_at,
            ...(decision.on_behalf_of ? { on_behalf_of: decision.on_behalf_of } : {}),
          }
        : null,
    });
  }

  /** Answer any approval; a run checkpoint's decision goes through its run. */
  function respond(approvalId: string, req: Omit<DecisionRequest, 'approval_id'>, actor: string) {
    return respondOnce(approvalId, req, actor).catch((err: unknown) => explainRefusal(approvalId, err));
  }

  async function respondOnce(approvalId: string, req: Omit<DecisionRequest, 'approval_id'>, actor: string) {
    const found = await get(approvalId);
    if (!found) throw new HitlError('approval_not_found', `Approval ${approvalId} not found`);
    if (!found.row.envelope && found.row.run_id) {
      const run = await host.decide(found.row.run_id, { ...req, approval_id: approvalId }, actor);
      return { kind: 'run' as const, run };
    }
    if (req.action === 'retry') {
      throw new HitlError('invalid_action', 'Action retry is not allowed at browser_action_approval');
    }
    const approval = await applyStandalone(approvalId, () => ({
      type: ACTION_EVENT[req.action as 'approve' | 'edit' | 'reject'],
      ...stampFor(actor),
      approval_id: approvalId,
      ...(req.edits ? { edits: redact(req.edits) } : {}),
      ...(req.reason !== undefined ? { reason: req.reason } : {}),
      ...(req.on_behalf_of !== undefined ? { on_behalf_of: req.on_behalf_of } : {}),
      ...(req.client_timestamp !== undefined ? { client_timestamp: req.client_timestamp } : {}),
    }));
    return { kind: 'standalone' as const, approval };
  }

  function stampFor(actor: string) {
    const s = core.stamp(actor);
    return { at: s.at, actor: s.actor };
  }

  /** Cancel a pending approval; a run checkpoint's cancellation cancels its run. */
  async function cancel(approvalId: string, actor: string, reason?: string) {
    const found = await get(approvalId);
    if (!found) throw new HitlError('approval_not_found', `Approval ${approvalId} not found`);
    if (found.approval.status !== 'pending') {
      throw new HitlError('approval_not_pending', `Approval ${approvalId} is ${found.approval.status}`);
    }
    if (!found.row.envelope && found.row.run_id) {
      await host.control(found.row.run_id, 'cancel', actor, reason ?? 'Approval cancelled');
      return (await get(approvalId))?.approval ?? found.approval;
    }
    return applyStandalone(approvalId, () => ({
      type: 'approval.cancelled',
      ...stampFor(actor),
      approval_id: approvalId,
      ...(reason ? { reason } : {}),
    }));
  }

  /** The durable deadline of a standalone approval fired (exactly once, via the timers table). */
  async function onDeadline(timer: DueTimer): Promise<void> {
    await applyStandalone(timer.key, () => ({
      type: 'approval.expired',
      ...stampFor('system:timeout'),
      approval_id: timer.key,
    })).catch((err: unknown) => {
      if (
        !(
          err instanceof HitlError &&
          (err.code === 'approval_not_pending' || err.code === 'approval_not_found')
        )
      )
        throw err;
    });
  }

  return { create, get, respond, explainRefusal, cancel, onDeadline };
}

export type ApprovalService = ReturnType<typeof createApprovalService>;
