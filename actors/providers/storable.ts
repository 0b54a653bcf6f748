import { type JsonContainer, putEntry } from '../../machines/values.ts';
import type { PredictionState } from './types.ts';

// NUL, or a surrogate half without its partner: Postgres refuses both in jsonb.
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what this finds.
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** A string with each NUL and lone surrogate written out as its `\uXXXX` escape (six characters). */
export function escapeText(s: string): string {
  return s.replace(UNSTORABLE, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const needsEscape = (s: string) => {
  UNSTORABLE.lastIndex = 0;
  return UNSTORABLE.test(s);
};

/** Provider values nested deeper than this are cut (serialising them would overflow the stack). */
export const MAX_OUTPUT_DEPTH = 256;

interface Slot {
  v: unknown;
  /** The copy of the parent (an object, or an array filled by index). */
  into: JsonContainer;
  key: string | number;
  path: string;
  depth: number;
}

/**
 * A copy of a provider's value that Postgres can store (SPEC §7): strings and keys holding NUL or
 * lone surrogates are escaped, anything nested deeper than `MAX_OUTPUT_DEPTH` is replaced by a
 * note, and `escaped` names where. Iterative: any nesting is safe here.
 */
export function storable<T>(value: T): { value: T; escaped: string[] } {
  const escaped: string[] = [];
  const root: Record<string, unknown> = {};
  const stack: Slot[] = [{ v: value, into: root, key: 'v', path: '', depth: 0 }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { v, into, key, path, depth } = item;
    let out: unknown;
    if (typeof v === 'string') {
      const bad = needsEscape(v);
      if (bad) escaped.push(path || '(value)');
      out = bad ? escapeText(v) : v;
    } else if (typeof v !== 'object' || v === null) {
      out = v;
    } else if (depth >= MAX_OUTPUT_DEPTH) {
      escaped.push(path || '(value)');
      out = `[nested deeper than ${MAX_OUTPUT_DEPTH} levels: cut]`;
    } else if (Array.isArray(v)) {
      const arr: unknown[] = new Array(v.length);
      for (let i = 0; i < v.length; i++) {
        stack.push({ v: v[i], into: arr, key: i, path: `${path}[${i}]`, depth: depth + 1 });
      }
      out = arr;
    } else {
      const obj: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        const safeKey = needsEscape(k) ? escapeText(k) : k;
        const p = path ? `${path}.${safeKey}` : safeKey;
        if (safeKey !== k) escaped.push(p);
        obj[safeKey] = null;
        stack.push({ v: x, into: obj, key: safeKey, path: p, depth: depth + 1 });
      }
      out = obj;
    }
    putEntry(into, key, out);
  }
  return { value: root.v as T, escaped: [...new Set(escaped)].sort() };
}

/** A prediction state safe to store, and where characters were escaped (noted in its event). */
export function storablePrediction(state: PredictionState): { state: PredictionState; escaped: string[] } {
  const { value, escaped } = storable({ output: state.output, error: state.error, raw: state.raw });
  return {
    state: { ...state, id: escapeText(state.id), output: value.output, error: value.error, raw: value.raw },
    escaped: escaped.filter((p) => !p.startsWith('raw')),
  };
}
