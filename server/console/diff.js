// @ts-check
/**
 * Field-level differences between two payloads, for the review of an edit before it is sent:
 * which top-level fields are added, removed or changed, and their values before and after.
 */

/** @typedef {{ field: string, kind: 'added' | 'removed' | 'changed', before: unknown, after: unknown }} Change */

/**
 * A stable JSON text of a value (object keys sorted), for comparing.
 * @param {unknown} value
 * @returns {string}
 */
export function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'undefined';
}

/**
 * The changes from `before` to `after`, field by field, in the order of `before` then new fields.
 * @param {Record<string, unknown>} before
 * @param {Record<string, unknown>} after
 * @returns {Change[]}
 */
export function fieldDiff(before, after) {
  /** @type {Change[]} */
  const changes = [];
  for (const [field, value] of Object.entries(before)) {
    if (!Object.hasOwn(after, field))
      changes.push({ field, kind: 'removed', before: value, after: undefined });
    else if (canonical(value) !== canonical(after[field]))
      changes.push({ field, kind: 'changed', before: value, after: after[field] });
  }
  for (const [field, value] of Object.entries(after)) {
    if (!Object.hasOwn(before, field))
      changes.push({ field, kind: 'added', before: undefined, after: value });
  }
  return changes;
}

/**
 * What the server will send after an edit: the edited fields merged into the payload (an edit's
 * payload is merged into the input, SPEC §2.2), so a field left out keeps its value.
 * @param {Record<string, unknown>} payload
 * @param {Record<string, unknown>} edited
 */
export function mergedPayload(payload, edited) {
  return { ...payload, ...edited };
}
