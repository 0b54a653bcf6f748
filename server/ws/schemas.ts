import { z } from 'zod';
import { ResolvedMessage } from '../../actors/run-messages.ts';
import { Approval, DecisionAction } from '../../machines/schemas.ts';
import { EventRow } from '../../machines/view-schemas.ts';

/** The frame schemas of SPEC §4, one per contract: what the server pushes, what clients send. */

const { run_id, seq, type, step, status, message, created_at } = EventRow.shape;

/**
 * A server → client frame that follows runs and approvals (replies are `replyFrame`'s). Its data
 * is open (clients ignore fields they do not know), so every frame's data reads as a record.
 */
export const ServerFrame = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('hitl_status_update'),
    data: z.looseObject({
      run_id,
      status,
      current_step: step,
      event_type: type,
      message,
      seq,
      timestamp: created_at,
    }),
  }),
  z.object({
    type: z.literal('hitl_step_completion'),
    data: z.looseObject({ run_id, step, result: z.unknown(), timestamp: created_at }),
  }),
  z.object({
    type: z.literal('hitl_error'),
    data: z.looseObject({ run_id, error: z.record(z.string(), z.unknown()), step, timestamp: created_at }),
  }),
  z.object({ type: z.literal('hitl_approval_request'), data: Approval.loose() }),
  z.object({ type: z.literal('hitl_approval_resolved'), data: ResolvedMessage.loose() }),
]);
export type ServerFrame = z.infer<typeof ServerFrame>;

/** A client's `request_id`, echoed on the reply. */
export const RequestId = z.union([z.string().max(200), z.number()]);
const Id = z.string().min(1).max(200);

/** A client frame `{ type, data, request_id? }` (SPEC §4). */
export const ClientFrame = z.object({
  type: z.string().min(1).max(100),
  data: z.unknown().optional(),
  request_id: RequestId.optional(),
});
export type ClientFrame = z.infer<typeof ClientFrame>;

/** `approval_id`, or its alias `approval_token` (one value). */
function approvalIdOf(
  d: { approval_id?: string | undefined; approval_token?: string | undefined },
  ctx: z.RefinementCtx,
): void {
  if (d.approval_id === undefined && d.approval_token === undefined) {
    ctx.addIssue({ code: 'custom', message: 'approval_id is required', path: ['approval_id'] });
  } else if (
    d.approval_id !== undefined &&
    d.approval_token !== undefined &&
    d.approval_id !== d.approval_token
  ) {
    ctx.addIssue({
      code: 'custom',
      message: 'approval_id and approval_token differ',
      path: ['approval_token'],
    });
  }
}

/** `hitl_approval_response` data; `approved: true/false` stands for approve/reject, as over HTTP. */
export const ApprovalResponseData = z
  .object({
    approval_id: Id.optional(),
    approval_token: Id.optional(),
    action: DecisionAction.optional(),
    approved: z.boolean().optional(),
    edits: z.record(z.string(), z.unknown()).optional(),
    reason: z.string().max(4000).optional(),
    approved_by: z.string().min(1).max(200).optional(),
    timestamp: z.string().max(100).optional(),
  })
  .superRefine((d, ctx) => {
    approvalIdOf(d, ctx);
    const implied = d.approved === undefined ? undefined : d.approved ? 'approve' : 'reject';
    if (d.action === undefined && implied === undefined) {
      ctx.addIssue({ code: 'custom', message: 'action is required', path: ['action'] });
    } else if (d.action !== undefined && implied !== undefined && d.action !== implied) {
      ctx.addIssue({
        code: 'custom',
        message: `approved: ${d.approved} contradicts action ${d.action}`,
        path: ['approved'],
      });
    }
  });

/** `hitl_list_pending` data (all optional). */
export const ListPendingData = z
  .object({
    user_id: Id.optional(),
    session_id: Id.optional(),
    run_id: Id.optional(),
    limit: z.number().int().min(1).max(200).optional(),
    cursor: z.string().min(1).max(500).optional(),
  })
  .optional();

/** `hitl_cancel_approval` data. */
export const CancelApprovalData = z
  .object({
    approval_id: Id.optional(),
    approval_token: Id.optional(),
    reason: z.string().max(4000).optional(),
  })
  .superRefine(approvalIdOf);

/** `subscribe` / `unsubscribe` data: exactly one of run_id (with after_seq), session_id, user_id. */
export const SubscribeData = z
  .object({
    run_id: Id.optional(),
    after_seq: z.number().int().min(0).optional(),
    session_id: Id.optional(),
    user_id: Id.optional(),
  })
  .superRefine((d, ctx) => {
    const keys = [d.run_id, d.session_id, d.user_id].filter((k) => k !== undefined);
    if (keys.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: 'exactly one of run_id, session_id, user_id is required',
        path: [],
      });
    }
    if (d.after_seq !== undefined && d.run_id === undefined) {
      ctx.addIssue({ code: 'custom', message: 'after_seq needs run_id', path: ['after_seq'] });
    }
  });
export type SubscribeData = z.infer<typeof SubscribeData>;
