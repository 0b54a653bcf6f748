import { z } from 'zod';
import type { Json } from './types.ts';

/** What a snapshot cache stores under one key: a value and the version it is as of. */
export const CacheEntry = z.object({ version: z.number().int().nonnegative(), value: z.json() });
export type CacheEntry = z.infer<typeof CacheEntry>;

/** Parses a stored entry; anything that is not one (garbage, another shape) is a miss. */
export function parseCacheEntry(raw: string | null): CacheEntry | null {
  if (raw === null) return null;
  const parsed = CacheEntry.safeParse(parseJson(raw));
  return parsed.success ? parsed.data : null;
}

const JsonValue = z.json();

/** Parses a bus message; undefined when it is not JSON. */
export function parseJsonMessage(raw: string): Json | undefined {
  const parsed = JsonValue.safeParse(parseJson(raw));
  return parsed.success ? parsed.data : undefined;
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}
