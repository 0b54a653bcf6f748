import type { Approval } from '../machines/schemas.ts';
import type { EventRow } from '../persistence/types.ts';

/** What a committed change tells subscribers (WebSocket, SSE, long-polls) on every node. */
export interface RunMessage {
  kind: 'run';
  node: string;
  run_id: string;
  user_id: string | null;
  session_id: string | null;
  created_by: string;
  status: string;
  current_step: string;
  seq: number;
  events: EventRow[];
  /** Approvals opened by this change, in their wire shape. */
  opened: Approval[];
  /** Approvals closed by this change. */
  resolved: { approval_id: string; run_id: string | null; action: string; actor: string }[];
  reviewers: { user_ids: string[]; roles: string[] };
  /** The run opened an approval (any status): only then may its reviewers read it (SPEC §7). */
  has_approvals?: boolean;
}

/** A standalone approval changed (created or resolved). */
export interface ApprovalMessage {
  kind: 'approval';
  node: string;
  approval: Approval;
  created_by: string | null;
  resolved: { approval_id: string; run_id: string | null; action: string; actor: string } | null;
}

export type HostMessage = RunMessage | ApprovalMessage;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/**
 * A shallow shape check of a message from the bus (another node, another version): enough that
 * subscribers may read its fields, never a recursive parse (SPEC §7).
 */
export function isHostMessage(m: unknown): m is HostMessage {
  if (!isObject(m) || typeof m.node !== 'string') return false;
  if (m.kind === 'run') {
    return (
      typeof m.run_id === 'string' &&
      typeof m.status === 'string' &&
      Array.isArray(m.events) &&
      m.events.every(isObject) &&
      Array.isArray(m.opened) &&
      m.opened.every(isObject) &&
      Array.isArray(m.resolved) &&
      isObject(m.reviewers)
    );
  }
  return m.kind === 'approval' && isObject(m.approval) && isObject(m.approval.reviewers);
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
