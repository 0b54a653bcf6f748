import { createHash } from 'node:crypto';

/**
 * Long strings stored once per run (issue 7, "write volume follows the change"). A run's snapshot,
 * view and events repeat its input: a 1 MB prompt is in the snapshot several times, in the view
 * several times, and in more than one event. Before a write, every string of at least
 * `BLOB_MIN_CHARS` is replaced by a reference to a row of `run_blobs` (keyed by run and sha-256),
 * and that row is written once; a read resolves the references. A commit of a run with a large
 * input then writes the change, not the input again.
 *
 * References are strings `MARK + "blob:" + sha256`. A stored string that happens to start with
 * `MARK` is escaped as `MARK + "str:" + string`, so every string reads back exactly as written.
 */
export const BLOB_MIN_CHARS = 4096;
const MARK = '\u0001hitl:';
const REF = `${MARK}blob:`;
const ESC = `${MARK}str:`;

/** sha-256 of the long strings seen lately (a run's input is hashed once, not on every commit). */
const HASH_CACHE_CHARS = 64 * 1024 * 1024;
const hashes = new Map<string, string>();
let hashedChars = 0;

function sha256(s: string): string {
  const known = hashes.get(s);
  if (known !== undefined) return known;
  const h = createHash('sha256').update(s).digest('hex');
  hashes.set(s, h);
  hashedChars += s.length;
  for (const k of hashes.keys()) {
    if (hashedChars <= HASH_CACHE_CHARS) break;
    hashes.delete(k);
    hashedChars -= k.length;
  }
  return h;
}

/**
 * `value` with its long strings replaced by references; the strings go into `out` (sha-256 →
 * string). Returns `value` itself when nothing changed (the usual case: no allocation).
 */
export function dehydrate(value: unknown, out: Map<string, string>): unknown {
  if (typeof value === 'string') {
    if (value.length >= BLOB_MIN_CHARS) {
      const h = sha256(value);
      out.set(h, value);
      return REF + h;
    }
    return value.charCodeAt(0) === 1 && value.startsWith(MARK) ? ESC + value : value;
  }
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      if (v === null || (typeof v !== 'object' && typeof v !== 'string')) continue;
      const d = dehydrate(v, out);
      if (d !== v) {
        copy ??= value.slice();
        copy[i] = d;
      }
    }
    return copy ?? value;
  }
  const json = (value as { toJSON?: unknown }).toJSON;
  if (typeof json === 'function') return dehydrate((value as { toJSON(): unknown }).toJSON(), out);
  let copy: Record<string, unknown> | null = null;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    const v = obj[k];
    if (v === null || (typeof v !== 'object' && typeof v !== 'string')) continue;
    const d = dehydrate(v, out);
    if (d !== v) {
      copy ??= { ...obj };
      copy[k] = d;
    }
  }
  return copy ?? value;
}

/** The sha-256 of every reference in `value` (added to `out`). */
export function refsIn(value: unknown, out: Set<string>): void {
  if (typeof value === 'string') {
    if (value.startsWith(REF)) out.add(value.slice(REF.length));
    return;
  }
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (const v of value) refsIn(v, out);
    return;
  }
  for (const k in value as Record<string, unknown>) refsIn((value as Record<string, unknown>)[k], out);
}

/** Whether `value` holds any reference or escaped string (so must be hydrated). */
export function hasMarks(value: unknown): boolean {
  if (typeof value === 'string') return value.startsWith(MARK);
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some(hasMarks);
  for (const k in value as Record<string, unknown>)
    if (hasMarks((value as Record<string, unknown>)[k])) return true;
  return false;
}

/** `value` with references resolved through `blob` and escapes undone (mutates and returns it). */
export function hydrate(value: unknown, blob: (sha: string) => string): unknown {
  if (typeof value === 'string') {
    if (!value.startsWith(MARK)) return value;
    if (value.startsWith(REF)) return blob(value.slice(REF.length));
    if (value.startsWith(ESC)) return value.slice(ESC.length);
    return value;
  }
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = hydrate(value[i], blob);
    return value;
  }
  const obj = value as Record<string, unknown>;
  for (const k in obj) obj[k] = hydrate(obj[k], blob);
  return value;
}
