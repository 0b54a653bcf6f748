import { z } from 'zod';
import { DecisionAction } from './schemas.ts';

/**
 * Events of the standalone approval machine (SPEC §6), named as in the event log.
 * Time and actor are stamped at the edge so the machine stays pure and replayable.
 */
const Stamp = {
  approval_id: z.string().min(1),
  at: z.iso.datetime(),
  actor: z.string().min(1),
};

// `edits` is optional on every review event: whether it fits is the machine's call
// (`invalid_edits`), not a schema error, so the host can answer with the right code.
const ReviewFields = {
  ...Stamp,
  reason: z.string().max(4000).optional(),
  on_behalf_of: z.string().optional(),
  client_timestamp: z.string().optional(),
  edits: z.record(z.string(), z.unknown()).optional(),
};

/** A reviewer approves the approval. */
export const ReviewApprove = z.object({ type: z.literal('review.approve'), ...ReviewFields });
export type ReviewApprove = z.infer<typeof ReviewApprove>;

/** A reviewer approves with changes; `edits` (a non-empty object) goes back to the caller. */
export const ReviewEdit = z.object({ type: z.literal('review.edit'), ...ReviewFields });
export type ReviewEdit = z.infer<typeof ReviewEdit>;

/** A reviewer rejects the approval. */
export const ReviewReject = z.object({ type: z.literal('review.reject'), ...ReviewFields });
export type ReviewReject = z.infer<typeof ReviewReject>;

/** The durable deadline passed (sent by the host's timer, actor `system:timeout`). */
export const ApprovalExpired = z.object({ type: z.literal('approval.expired'), ...Stamp });
export type ApprovalExpired = z.infer<typeof ApprovalExpired>;

/** The creating service withdrew the approval (`DELETE /hitl/approvals/{id}`). */
export const ApprovalCancelled = z.object({
  type: z.literal('approval.cancelled'),
  ...Stamp,
  reason: z.string().max(4000).optional(),
});
export type ApprovalCancelled = z.infer<typeof ApprovalCancelled>;

/** Any event the approval machine accepts. */
export const ApprovalEvent = z.discriminatedUnion('type', [
  ReviewApprove,
  ReviewEdit,
  ReviewReject,
  ApprovalExpired,
  ApprovalCancelled,
]);
export type ApprovalEvent = z.infer<typeof ApprovalEvent>;

/** The review events: a reviewer's decision. */
export type ReviewEvent = ReviewApprove | ReviewEdit | ReviewReject;

/** Input of the approval machine; the edge fills the default actions (SPEC §6: approve, reject). */
export const ApprovalMachineInput = z.object({
  approval_id: z.string().min(1),
  created_at: z.iso.datetime(),
  expires_at: z.iso.datetime(),
  actions: z.array(DecisionAction).min(1),
});
export type ApprovalMachineInput = z.infer<typeof ApprovalMachineInput>;

/** What a standalone approval offers when the caller names no actions (SPEC §6). */
export const DEFAULT_STANDALONE_ACTIONS: readonly DecisionAction[] = ['approve', 'reject'];
