/** Small checks over JSON values, shared by every layer (they import nothing). */

/** A plain JSON object (not an array, not null). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A JSON container being filled in: an array (by index) or an object (by key). */
export type JsonContainer = unknown[] | Record<string, unknown>;

/** `container[key] = value`, by index for an array, by key for an object. */
export function putEntry(container: JsonContainer, key: string | number, value: unknown): void {
  if (Array.isArray(container)) container[Number(key)] = value;
  else container[String(key)] = value;
}
