import type { Parameter, Sql, TransactionSql } from 'postgres';
import type { ApprovalRow, EventRow, RunRecord, SnapshotEnvelope } from './types.ts';
import { StoreError } from './types.ts';

/** Columns of `runs` as postgres.js returns them (timestamptz → Date, jsonb → parsed). */
export interface RunDbRow {
  run_id: string;
  seq: number;
  status: string;
  current_step: string;
  user_id: string | null;
  session_id: string | null;
  created_by: string;
  envelope: SnapshotEnvelope;
  view: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
  owner: string | null;
  lease_until: Date | null;
}

/** Columns of `run_events`. */
export interface EventDbRow extends Omit<EventRow, 'created_at'> {
  created_at: Date;
}

/** Columns of `approvals`. */
export interface ApprovalDbRow extends Omit<ApprovalRow, 'created_at' | 'expires_at'> {
  created_at: Date;
  expires_at: Date;
}

/** ISO-8601 UTC with milliseconds, as everywhere in the API. */
export const iso = (d: Date): string => d.toISOString();

/** Same, for nullable columns. */
export const isoOrNull = (d: Date | null): string | null => (d === null ? null : d.toISOString());

/** Maps a `runs` row to the contract shape. */
export function toRunRecord(r: RunDbRow): RunRecord {
  return {
    run_id: r.run_id,
    seq: r.seq,
    status: r.status,
    current_step: r.current_step,
    user_id: r.user_id,
    session_id: r.session_id,
    created_by: r.created_by,
    envelope: r.envelope,
    view: r.view,
    created_at: iso(r.created_at),
    updated_at: iso(r.updated_at),
    owner: r.owner,
    lease_until: isoOrNull(r.lease_until),
  };
}

/** Maps a `run_events` row to the contract shape. */
export function toEventRow(r: EventDbRow): EventRow {
  return { ...r, created_at: iso(r.created_at) };
}

/** Maps an `approvals` row to the contract shape. */
export function toApprovalRow(r: ApprovalDbRow): ApprovalRow {
  return { ...r, created_at: iso(r.created_at), expires_at: iso(r.expires_at) };
}

// The jsonb type oid: typed parameters are serialised with JSON.stringify by postgres.js.
const JSONB_OID = 3802;

/** A jsonb parameter; callers hand in JSON-safe data by contract (snapshots, views, payloads). */
export const jsonb = (sql: Sql | TransactionSql, value: unknown): Parameter<unknown> =>
  sql.typed(value, JSONB_OID);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `id` can be a uuid column value; anything else cannot match a row. */
export const isUuid = (id: string): boolean => UUID.test(id);

/** The keyset position of a page: the last item's created_at and id. */
export interface CursorKey {
  created_at: string;
  id: string;
}

/** Opaque base64url cursor over (created_at, id), newest first. */
export function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify([key.created_at, key.id])).toString('base64url');
}

/** Decodes a cursor made by `encodeCursor`; anything else is `StoreError('invalid_cursor')`. */
export function decodeCursor(cursor: string): CursorKey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = null;
  }
  if (
    Array.isArray(parsed) &&
    parsed.length === 2 &&
    typeof parsed[0] === 'string' &&
    typeof parsed[1] === 'string' &&
    !Number.isNaN(Date.parse(parsed[0])) &&
    isUuid(parsed[1])
  ) {
    return { created_at: parsed[0], id: parsed[1] };
  }
  throw new StoreError('invalid_cursor', 'cursor is not one this service issued');
}

/** Cuts a `limit + 1` query result into a page. */
export function toPage<R, T>(
  rows: R[],
  limit: number,
  total: number,
  map: (r: R) => T,
  key: (r: R) => CursorKey,
): { items: T[]; total: number; next_cursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  const next_cursor = rows.length > limit && last !== undefined ? encodeCursor(key(last)) : null;
  return { items: items.map(map), total, next_cursor };
}
