import { z } from 'zod';
import { Approval } from '../machines/schemas.ts';
import { isRecord } from '../machines/values.ts';
import { StoredEventRow } from '../machines/view-schemas.ts';

/**
 * What a committed change tells subscribers on every node (WebSocket, SSE, long-polls), as zod
 * schemas for the types. Read back from the bus, a message is checked shallowly
 * (`isHostMessage`), never parsed recursively: it is the service's own data (SPEC §7).
 */

/** An approval closed by a change: `hitl_approval_resolved` (SPEC §4). */
export const ResolvedMessage = z.object({
  approval_id: z.string(),
  run_id: z.string().nullable(),
  action: z.string(),
  actor: z.string(),
});
export type ResolvedMessage = z.infer<typeof ResolvedMessage>;

/** A run's committed change. */
export const RunMessage = z.object({
  kind: z.literal('run'),
  node: z.string(),
  run_id: z.string(),
  user_id: z.string().nullable(),
  session_id: z.string().nullable(),
  created_by: z.string(),
  status: z.string(),
  current_step: z.string(),
  seq: z.number(),
  /** The rows the change logged, derived facts included. */
  events: z.array(StoredEventRow),
  /** Approvals opened by this change, in their wire shape. */
  opened: z.array(Approval),
  /** Approvals closed by this change. */
  resolved: z.array(ResolvedMessage),
  reviewers: Approval.shape.reviewers,
  /** The run opened an approval (any status): only then may its reviewers read it (SPEC §7). */
  has_approvals: z.boolean().optional(),
});
export type RunMessage = z.infer<typeof RunMessage>;

/** A standalone approval changed (created or resolved). */
export const ApprovalMessage = z.object({
  kind: z.literal('approval'),
  node: z.string(),
  approval: Approval,
  created_by: z.string().nullable(),
  resolved: ResolvedMessage.nullable(),
});
export type ApprovalMessage = z.infer<typeof ApprovalMessage>;

export type HostMessage = RunMessage | ApprovalMessage;

/**
 * A shallow shape check of a message from the bus (another node, another version): enough that
 * subscribers may read its fields, never a recursive parse (SPEC §7).
 */
export function isHostMessage(m: unknown): m is HostMessage {
  if (!isRecord(m) || typeof m.node !== 'string') return false;
  if (m.kind === 'run') {
    return (
      typeof m.run_id === 'string' &&
      typeof m.status === 'string' &&
      Array.isArray(m.events) &&
      m.events.every(isRecord) &&
      Array.isArray(m.opened) &&
      m.opened.every(isRecord) &&
      Array.isArray(m.resolved) &&
      isRecord(m.reviewers)
    );
  }
  return m.kind === 'approval' && isRecord(m.approval) && isRecord(m.approval.reviewers);
}

/** A subscriber that can never throw into its caller (a commit, a bus): its errors are logged. */
export function guarded(
  listener: (m: HostMessage) => void,
  log: { warn(obj: object, msg?: string): void },
): (m: HostMessage) => void {
  return (m) => {
    try {
      listener(m);
    } catch (err) {
      log.warn({ err: err instanceof Error ? err.message : String(err) }, 'a subscriber failed');
    }
  };
}
