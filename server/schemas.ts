import { z } from 'zod';
import { DecisionAction, HitlConfigInput, RunStatus } from '../machines/schemas.ts';

/** Request and response schemas of the HTTP API: the same schemas validate and document (openapi). */

const optionalText = z.string().nullish();

/** RunInput (SPEC §2.1): the body services already send; unknown fields are kept. */
export const RunInput = z.looseObject({
  prompt: z.string(),
  user_id: optionalText,
  session_id: optionalText,
  user_email: optionalText,
  agent_email: optionalText,
  message_type: optionalText,
  log_id: optionalText,
  document_url: optionalText,
  attachments: z.array(z.string()).nullish(),
  agent_tool_config: z.record(z.string(), z.unknown()).nullish(),
  selected_llm: optionalText,
});
export type RunInput = z.infer<typeof RunInput>;

/** `POST /hitl/run`. */
export const CreateRunBody = z.object({
  run_input: RunInput,
  hitl_config: HitlConfigInput.nullish(),
  user_id: optionalText,
  session_id: optionalText,
});
export type CreateRunBody = z.infer<typeof CreateRunBody>;

/** `POST /teams/run-hitl`. */
export const TeamsRunHitlBody = z.object({ run_input: RunInput, hitl_config: HitlConfigInput.nullish() });

/** `POST /teams/run`: a RunInput, optionally carrying `hitl_config` (taken out of the input). */
export const TeamsRunBody = RunInput.extend({ hitl_config: HitlConfigInput.nullish() });

const truthy = z
  .string()
  .optional()
  .transform((v) => v === 'true' || v === 'True' || v === 'TRUE' || v === '1');

/** Query of `POST /teams/run`. */
export const TeamsRunQuery = z.object({
  enable_hitl: truthy,
  user_id: z.string().optional(),
  session_id: z.string().optional(),
  timeout: z.coerce.number().positive().max(3600).optional(),
});

/** Query of the create routes: `user_id` / `session_id` win over the ones inside `run_input`. */
export const OwnerQuery = z.object({ user_id: z.string().optional(), session_id: z.string().optional() });

const Edits = z.record(z.string(), z.unknown());

const DecisionFields = {
  edits: Edits.nullish(),
  reason: z.string().max(4000).nullish(),
  approved_by: z.string().max(256).nullish(),
  /** The client's time, stored as such, never trusted. */
  timestamp: z.string().max(64).nullish(),
};

/** `POST /hitl/run/{id}/approve`: `approved: true/false` stands for approve/reject. */
export const ApproveBody = z
  .object({
    approval_id: z.string().optional(),
    approval_token: z.string().optional(),
    action: DecisionAction.optional(),
    approved: z.boolean().optional(),
    ...DecisionFields,
  })
  .superRefine((b, ctx) => {
    if (!b.approval_id && !b.approval_token) {
      ctx.addIssue({
        code: 'custom',
        path: ['approval_id'],
        message: 'approval_id (or approval_token) is required',
      });
    } else if (b.approval_id && b.approval_token && b.approval_id !== b.approval_token) {
      ctx.addIssue({
        code: 'custom',
        path: ['approval_token'],
        message: 'approval_token differs from approval_id',
      });
    }
    if (b.action === undefined && b.approved === undefined) {
      ctx.addIssue({ code: 'custom', path: ['action'], message: 'action (or approved) is required' });
    } else if (
      b.action !== undefined &&
      b.approved !== undefined &&
      b.action !== (b.approved ? 'approve' : 'reject')
    ) {
      ctx.addIssue({ code: 'custom', path: ['approved'], message: 'approved contradicts action' });
    }
  });
export type ApproveBody = z.infer<typeof ApproveBody>;

/** `POST /hitl/approvals/{id}/respond`. */
export const RespondBody = z
  .object({ action: DecisionAction.optional(), approved: z.boolean().optional(), ...DecisionFields })
  .superRefine((b, ctx) => {
    if (b.action === undefined && b.approved === undefined) {
      ctx.addIssue({ code: 'custom', path: ['action'], message: 'action (or approved) is required' });
    }
  });
export type RespondBody = z.infer<typeof RespondBody>;

/** Optional body of pause / resume / cancel and of `DELETE /hitl/approvals/{id}`. */
export const ReasonBody = z.object({ reason: z.string().max(4000).nullish() });

/** `POST /hitl/approvals` (SPEC §6). */
export const StandaloneBody = z.object({
  checkpoint_type: z.literal('browser_action_approval').default('browser_action_approval'),
  action_description: z.string().min(1).max(4000),
  context: z.record(z.string(), z.unknown()).default({}),
  user_id: optionalText,
  session_id: optionalText,
  run_id: z.string().nullish(),
  reviewers: z
    .strictObject({ user_ids: z.array(z.string()).optional(), roles: z.array(z.string()).optional() })
    .nullish(),
  actions: z
    .array(z.enum(['approve', 'reject', 'edit']))
    .min(1)
    .nullish(),
  timeout_seconds: z
    .number()
    .int()
    .positive()
    .max(30 * 24 * 3600)
    .default(3600),
});

const limit = (max: number, fallback: number) => z.coerce.number().int().min(1).max(max).default(fallback);
const statusList = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (!v) return undefined;
    const list = v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const bad = list.filter((s) => !RunStatus.safeParse(s).success);
    if (bad.length > 0) ctx.addIssue({ code: 'custom', message: `unknown status: ${bad.join(', ')}` });
    return list;
  });

/** `GET /hitl/runs`. */
export const ListRunsQuery = z.object({
  user_id: z.string().optional(),
  session_id: z.string().optional(),
  status: statusList,
  limit: limit(200, 50),
  cursor: z.string().optional(),
});

/** `GET /hitl/runs/active` and `/hitl/sessions/{session_id}/active`. */
export const ActiveQuery = z.object({
  user_id: z.string().optional(),
  limit: limit(200, 50),
  cursor: z.string().optional(),
});

/** `GET /hitl/approvals/pending`. */
export const PendingQuery = z.object({
  user_id: z.string().optional(),
  session_id: z.string().optional(),
  run_id: z.string().optional(),
  limit: limit(200, 50),
  cursor: z.string().optional(),
});

/** `GET /hitl/runs/{id}/events` (`cursor` is an alias of `after_seq`). */
export const EventsQuery = z.object({
  after_seq: z.coerce.number().int().min(0).optional(),
  cursor: z.coerce.number().int().min(0).optional(),
  limit: limit(1000, 100),
});

/** `GET /hitl/runs/{id}?wait_for=…&timeout=…` (seconds, capped at 55). */
export const WaitQuery = z.object({
  wait_for: z.enum(['awaiting_human', 'terminal']).optional(),
  timeout: z.coerce.number().min(0).optional(),
});
export type WaitQuery = z.infer<typeof WaitQuery>;

/** `GET /hitl/approvals/{id}?wait=` (seconds, capped at 55). */
export const ApprovalWaitQuery = z.object({ wait: z.coerce.number().min(0).optional() });

/** `POST /webhooks/replicate?run_id=`. */
export const WebhookQuery = z.object({ run_id: z.string().optional() });

/** `POST /hitl/websocket/message`: a frame; its content is checked by the frame handler. */
export const FrameBody = z.looseObject({
  type: z.string(),
  data: z.unknown().optional(),
  request_id: z.unknown().optional(),
});

// Response schemas (documentation only) live in response-schemas.ts.
export * from './response-schemas.ts';
