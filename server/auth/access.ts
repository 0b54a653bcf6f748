import type { ApprovalService } from '../../actors/approvals.ts';
import { HitlError } from '../../actors/errors.ts';
import type { LoadedRun } from '../../actors/run-core.ts';
import type { RunHost } from '../../actors/run-host.ts';
import { isUuid } from '../../machines/ids.ts';
import { approvalView } from '../../machines/run-view.ts';
import type { Approval } from '../../machines/schemas.ts';
import { shownInput } from '../errors.ts';
import { canDecide, canRead, type Principal } from './auth.ts';

const NO_REVIEWERS = { user_ids: [] as string[], roles: [] as string[] };

/**
 * Who may read a run (SPEC §7, the rule of the list endpoints): its user, and whoever may decide
 * one of its approvals (any status), so a run that never opened one has no reviewer readers.
 */
export function readAudience(run: {
  user_id: string | null;
  reviewers: { user_ids: string[]; roles: string[] };
  has_approvals?: boolean | undefined;
}) {
  return { user_id: run.user_id, reviewers: run.has_approvals === true ? run.reviewers : NO_REVIEWERS };
}

/** `readAudience` of a loaded run. */
export function runAudience(run: LoadedRun) {
  const ctx = run.snapshot.context;
  return readAudience({
    user_id: ctx.user_id,
    reviewers: ctx.config.reviewers,
    has_approvals: ctx.approvals.length > 0,
  });
}

/** Load a run the caller may read: 404 run_not_found, then 403 forbidden. */
export async function readableRun(host: RunHost, id: string, p: Principal): Promise<LoadedRun> {
  if (!isUuid(id)) throw new HitlError('run_not_found', `Run ${shownInput(id)} not found`);
  const run = await host.mustRead(id);
  if (!canRead(p, runAudience(run))) throw new HitlError('forbidden', 'You may not read this run');
  return run;
}

/** Load a run that exists (404 run_not_found); permission is checked by the caller. */
export async function existingRun(host: RunHost, id: string): Promise<LoadedRun> {
  if (!isUuid(id)) throw new HitlError('run_not_found', `Run ${shownInput(id)} not found`);
  return host.mustRead(id);
}

/** The checkpoint `approvalId` of a loaded run, in its wire shape, or null. */
function checkpointOf(run: LoadedRun, approvalId: string): Approval | null {
  const ctx = run.snapshot.context;
  const record = ctx.approvals.find((a) => a.approval_id === approvalId);
  return record ? approvalView(ctx, record) : null;
}

/**
 * A run's checkpoint for a decision: 404 run_not_found, then 404 approval_not_found. Read from
 * the run as this node has it, without a store read: what the caller's permission depends on
 * (the run's reviewers and user, the approval's id and type) never changes over a run, and the
 * decision itself is checked again on the committed state (`seq` guard). Only when this copy
 * does not know the approval yet is the run read afresh.
 */
export async function runCheckpoint(host: RunHost, runId: string, approvalId: string): Promise<Approval> {
  if (!isUuid(runId)) throw new HitlError('run_not_found', `Run ${shownInput(runId)} not found`);
  const known = await host.current(runId);
  if (!known) throw new HitlError('run_not_found', `Run ${shownInput(runId)} not found`);
  const found = checkpointOf(known, approvalId) ?? checkpointOf(await host.mustRead(runId), approvalId);
  if (!found)
    throw new HitlError(
      'approval_not_found',
      `Approval ${shownInput(approvalId)} not found for run ${runId}`,
    );
  return found;
}

/** Load an approval (404 approval_not_found), optionally requiring it to be a checkpoint of `runId`. */
export async function existingApproval(
  approvals: ApprovalService,
  id: string,
  runId?: string,
): Promise<Approval> {
  const found = isUuid(id) ? await approvals.get(id) : null;
  const isCheckpoint = found?.approval.checkpoint_type !== 'browser_action_approval';
  if (!found || (runId !== undefined && (found.approval.run_id !== runId || !isCheckpoint))) {
    throw new HitlError(
      'approval_not_found',
      `Approval ${shownInput(id)} not found${runId ? ` for run ${shownInput(runId)}` : ''}`,
    );
  }
  return found.approval;
}

/** Who may see an approval: whoever may decide it, and its end user. */
export function canSeeApproval(p: Principal, a: Approval): boolean {
  return canDecide(p, a) || (p.kind === 'reviewer' && a.user_id === p.sub);
}

/** 403 unless the caller may decide this approval. */
export function assertMayDecide(p: Principal, a: Approval): void {
  if (!canDecide(p, a)) throw new HitlError('forbidden', 'You may not decide this approval');
}
