import { jsonOf } from './json-once.ts';
import type { Json, JsonInput } from './types.ts';

/** What a snapshot cache stores under one key: a value and the version it is as of. */
export interface CacheEntry {
  version: number;
  value: Json;
}

/**
 * Parses a stored entry; anything that is not one (garbage, another shape) is a miss. Only the
 * envelope is checked: the value is the service's own data and stays opaque (a recursive
 * re-validation would cost CPU on every read and overflow the stack on deeply nested input).
 */
export function parseCacheEntry(raw: string | null): CacheEntry | null {
  if (raw === null) return null;
  const parsed = parseJson(raw);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
  const { version, value } = parsed as { version?: unknown; value?: unknown };
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 0) return null;
  if (value === undefined) return null;
  return { version, value: value as Json };
}

/**
 * The text of an entry. A record's object fields (a commit's envelope, serialised for Postgres)
 * reuse their kept JSON (`jsonOf`) instead of being serialised again.
 */
export function cacheEntryText(version: number, value: JsonInput): string {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? `{"version":${JSON.stringify(version)},"value":${jsonOf(value)}}`
    : JSON.stringify({ version, value });
}

/** Parses a bus message; undefined when it is not JSON. The content stays opaque (see above). */
export function parseJsonMessage(raw: string): Json | undefined {
  return parseJson(raw) as Json | undefined;
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}
