import type { Parameter, Sql, TransactionSql } from 'postgres';
import type { ApprovalRow, EventRow, RunRecord } from './types.ts';

/** `T` with its timestamp fields `K` as postgres.js returns the columns (timestamptz → Date). */
type WithDates<T, K extends keyof T> = Omit<T, K> & { [P in K]: null extends T[P] ? Date | null : Date };

/** Columns of `runs` (jsonb comes back parsed). */
export type RunDbRow = WithDates<RunRecord, 'created_at' | 'updated_at' | 'lease_until'>;

/** Columns of `run_events`. */
export type EventDbRow = WithDates<EventRow, 'created_at'>;

/** Columns of `approvals`. */
export type ApprovalDbRow = WithDates<ApprovalRow, 'created_at' | 'expires_at'>;

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

/** The columns of a `run_events` row to write, its payload as the write path sends it (a jsonb
 *  parameter, or a position among a batch's JSON values). Written out field by field: no object
 *  spread on the commit path. */
export function eventColumns<P>(e: EventRow, payload: P) {
  return {
    run_id: e.run_id,
    seq: e.seq,
    type: e.type,
    step: e.step,
    status: e.status,
    actor: e.actor,
    message: e.message,
    payload,
    derived: e.derived,
    created_at: e.created_at,
  };
}

/** Maps an `approvals` row to the contract shape. */
export function toApprovalRow(r: ApprovalDbRow): ApprovalRow {
  return { ...r, created_at: iso(r.created_at), expires_at: iso(r.expires_at) };
}

// The json and jsonb type oids: typed parameters are serialised with JSON.stringify by postgres.js.
const JSON_OID = 114;
const JSONB_OID = 3802;

/** A jsonb parameter; callers hand in JSON-safe data by contract (payloads, approvals). */
export const jsonb = (sql: Sql | TransactionSql, value: unknown): Parameter<unknown> =>
  sql.typed(value, JSONB_OID);

/** A json parameter (a run's envelope and view, stored as written: migration 00005). */
export const json = (sql: Sql | TransactionSql, value: unknown): Parameter<unknown> =>
  sql.typed(value, JSON_OID);
