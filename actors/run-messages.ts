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
