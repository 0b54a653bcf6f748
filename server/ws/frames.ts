import type { z } from 'zod';
import type { ApprovalService } from '../../actors/approvals.ts';
import { HitlError } from '../../actors/errors.ts';
import type { Logger } from '../../actors/logger.ts';
import type { DecisionRequest } from '../../actors/run-decide.ts';
import type { RunHost } from '../../actors/run-host.ts';
import { canDecide, type Principal } from '../auth/auth.ts';
import { knownError, type WireError } from '../errors.ts';
import {
  ApprovalResponseData,
  CancelApprovalData,
  ClientFrame,
  ListPendingData,
  RequestId,
} from './schemas.ts';

export { ClientFrame } from './schemas.ts';

/** `{ code, message, details? }` as every error travels on the socket. */
export type FrameError = WireError;

/** The `{ code, message }` of a schema error, naming the failing fields. */
export function schemaError(error: z.ZodError, where = 'data'): FrameError {
  const fields = error.issues.map((i) => [where, ...i.path].join('.'));
  return {
    code: 'invalid_request',
    message: `Invalid ${where}: ${[...new Set(fields)].join(', ')}`,
    details: error.issues.map((i) => ({ path: [where, ...i.path].join('.'), message: i.message })),
  };
}

/** The `{ code, message }` of any error; unknown errors never leak their text. */
export function frameError(err: unknown, log?: Logger): FrameError {
  const known = knownError(err);
  if (known) return known;
  log?.error({ err: err instanceof Error ? err.message : String(err) }, 'websocket frame failed');
  return { code: 'internal_error', message: 'Internal error' };
}

/** The `request_id` of a frame, if it has a valid one (also for frames that fail validation). */
export function requestIdOf(frame: unknown): string | number | undefined {
  if (typeof frame !== 'object' || frame === null) return undefined;
  const parsed = RequestId.safeParse((frame as { request_id?: unknown }).request_id);
  return parsed.success ? parsed.data : undefined;
}

/** A reply frame carrying the request's `request_id`. */
export function replyFrame(
  type: string,
  data: object,
  requestId: string | number | undefined,
): Record<string, unknown> {
  return { type, data, ...(requestId !== undefined ? { request_id: requestId } : {}) };
}

/** Handles the request/reply frames of SPEC §4, shared by the socket and `POST /hitl/websocket/message`. */
export function createFrameHandler(deps: { host: RunHost; approvals: ApprovalService; log?: Logger }) {
  const { host, approvals } = deps;

  async function mustFind(approvalId: string) {
    const found = await approvals.get(approvalId);
    if (!found) throw new HitlError('approval_not_found', `Approval ${approvalId} not found`);
    return found;
  }

  async function respond(data: z.infer<typeof ApprovalResponseData>, p: Principal) {
    const approvalId = (data.approval_id ?? data.approval_token) as string;
    try {
      const found = await mustFind(approvalId);
      if (p.kind === 'reviewer' && !canDecide(p, found.approval)) {
        throw new HitlError('forbidden', 'You may not decide this approval');
      }
      if (p.kind === 'reviewer' && data.approved_by !== undefined && data.approved_by !== p.sub) {
        throw new HitlError('forbidden', 'approved_by must be your own user id');
      }
      const action = data.action ?? (data.approved ? 'approve' : 'reject');
      const req: Omit<DecisionRequest, 'approval_id'> = {
        action,
        ...(data.edits !== undefined ? { edits: data.edits } : {}),
        ...(data.reason !== undefined ? { reason: data.reason } : {}),
        ...(p.kind === 'service' && data.approved_by !== undefined ? { on_behalf_of: data.approved_by } : {}),
        ...(data.timestamp !== undefined ? { client_timestamp: data.timestamp } : {}),
      };
      const result = await approvals.respond(approvalId, req, p.actor);
      if (result.kind === 'run') {
        const s = host.status(result.run);
        return {
          success: true,
          approval_id: approvalId,
          action,
          run_id: s.run_id,
          status: s.status,
          current_step: s.current_step,
        };
      }
      const a = result.approval;
      return { success: true, approval_id: approvalId, action, run_id: a.run_id, status: a.status };
    } catch (err) {
      return { success: false, approval_id: approvalId, error: frameError(err, deps.log) };
    }
  }

  async function listPending(data: z.infer<typeof ListPendingData>, p: Principal) {
    const filter = {
      ...(data?.user_id !== undefined ? { user_id: data.user_id } : {}),
      ...(data?.session_id !== undefined ? { session_id: data.session_id } : {}),
      ...(data?.run_id !== undefined ? { run_id: data.run_id } : {}),
      ...(p.kind === 'reviewer' ? { reviewer: { sub: p.sub, roles: p.roles } } : {}),
    };
    const page = await host.listPendingApprovals(filter, data?.limit ?? 50, data?.cursor ?? null);
    return {
      approvals: page.items.map((row) => row.approval),
      total: page.total,
      next_cursor: page.next_cursor,
    };
  }

  async function cancel(data: z.infer<typeof CancelApprovalData>, p: Principal) {
    const approvalId = (data.approval_id ?? data.approval_token) as string;
    try {
      await mustFind(approvalId);
      if (p.kind !== 'service')
        throw new HitlError('forbidden', 'Only services may cancel approvals; reject instead');
      const approval = await approvals.cancel(approvalId, p.actor, data.reason);
      return { success: true, approval_id: approvalId, status: approval.status };
    } catch (err) {
      return { success: false, approval_id: approvalId, error: frameError(err, deps.log) };
    }
  }

  /** Validate a client frame and answer it with its reply frame (same `request_id`). */
  async function handle(frame: unknown, principal: Principal): Promise<Record<string, unknown>> {
    const requestId = requestIdOf(frame);
    const reply = (type: string, data: object) => replyFrame(type, data, requestId);
    const parsed = ClientFrame.safeParse(frame);
    if (!parsed.success) return reply('error', schemaError(parsed.error, 'frame'));
    const { type, data } = parsed.data;
    try {
      switch (type) {
        case 'hitl_approval_response': {
          const d = ApprovalResponseData.safeParse(data);
          if (!d.success) return reply('error', schemaError(d.error));
          return reply('hitl_approval_response_ack', await respond(d.data, principal));
        }
        case 'hitl_list_pending': {
          const d = ListPendingData.safeParse(data);
          if (!d.success) return reply('error', schemaError(d.error));
          return reply('hitl_pending_approvals', await listPending(d.data, principal));
        }
        case 'hitl_cancel_approval': {
          const d = CancelApprovalData.safeParse(data);
          if (!d.success) return reply('error', schemaError(d.error));
          return reply('hitl_cancel_approval_ack', await cancel(d.data, principal));
        }
        case 'ping':
          return reply('pong', { timestamp: new Date().toISOString() });
        case 'subscribe':
        case 'unsubscribe':
          return reply('error', {
            code: 'invalid_request',
            message: `${type} is only available on the WebSocket`,
          });
        default:
          return reply('error', { code: 'invalid_request', message: `Unknown message type: ${type}` });
      }
    } catch (err) {
      return reply('error', frameError(err, deps.log));
    }
  }

  return { handle };
}

export type FrameHandler = ReturnType<typeof createFrameHandler>;
