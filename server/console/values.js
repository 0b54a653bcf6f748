// @ts-check
/** Plain-data helpers of the console, shared by the pure modules and the views (no DOM here). */

/**
 * A plain object, or null.
 * @param {unknown} value
 * @returns {Record<string, unknown> | null}
 */
export function asObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? /** @type {Record<string, unknown>} */ (value)
    : null;
}
