// An approval's row as read back from Postgres: its wire shape (checked shallowly, the service's
// own data, as the cache's envelope is) and, for a standalone approval, its machine snapshot.
import {
  APPROVAL_MACHINE_VERSION,
  type ApprovalSnapshot,
  approvalMachine,
} from '../machines/approval-machine.ts';
import { restoreApproval } from '../machines/run-replay.ts';
import type { Approval } from '../machines/schemas.ts';
import { isRecord } from '../machines/values.ts';
import type { ApprovalRow, SnapshotEnvelope } from '../persistence/types.ts';
import { HitlError } from './errors.ts';

/** Has the fields every reader of an approval uses: ids, checkpoint, status, actions, people. */
function isApproval(v: unknown): v is Approval {
  return (
    isRecord(v) &&
    typeof v.approval_id === 'string' &&
    typeof v.checkpoint_type === 'string' &&
    typeof v.status === 'string' &&
    Array.isArray(v.actions) &&
    isRecord(v.context) &&
    isRecord(v.reviewers)
  );
}

/** The approval a row holds, in its wire shape. */
export function approvalOf(row: ApprovalRow): Approval {
  if (!isApproval(row.approval)) {
    throw new HitlError('unavailable', `Stored approval ${row.approval_id} is malformed`);
  }
  return row.approval;
}

/** A standalone approval's snapshot, in its versioned envelope (STYLE rule 14). */
export function approvalEnvelope(snapshot: ApprovalSnapshot): SnapshotEnvelope {
  return {
    machine_version: APPROVAL_MACHINE_VERSION,
    snapshot: approvalMachine.getPersistedSnapshot(snapshot),
  };
}

/** The snapshot of a standalone approval's row. */
export function approvalSnapshot(row: ApprovalRow): ApprovalSnapshot {
  if (row.envelope?.machine_version !== APPROVAL_MACHINE_VERSION) {
    throw new HitlError('unavailable', 'Stored approval has an unknown machine version');
  }
  return restoreApproval(row.envelope.snapshot);
}
