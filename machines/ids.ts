const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids of runs and approvals are UUIDs: anything else names nothing (SPEC §3), and cannot be a
 *  uuid column value, so no store is asked about it. */
export const isUuid = (id: string): boolean => UUID.test(id);
