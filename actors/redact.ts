import { type JsonContainer, putEntry } from '../machines/values.ts';

const LAST_WORDS = new Set([
  'token',
  'secret',
  'password',
  'passwd',
  'passphrase',
  'credential',
  'credentials',
  'cookie',
  'authorization',
]);
const LAST_TWO = new Set([
  'api key',
  'access key',
  'private key',
  'secret key',
  'session key',
  'client secret',
]);
const WHOLE = new Set(['auth', 'apikey']);
/** Every secret key holds one of these (case-insensitive); most keys hold none. */
const MAYBE_SECRET = /token|secret|pass|credential|cookie|auth|key/i;

/** A key split into lower-case words at `_`, `-`, `.`, spaces and camelCase boundaries. */
export function keyWords(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .split(/[_\-.\s]+/)
    .filter(Boolean)
    .map((w) => w.toLowerCase());
}

/**
 * The secret rule of SPEC §7, by words: `x-api-key`, `accessKey`, `session_token`, `credentials`
 * are secret; `max_tokens`, `max_new_tokens`, `author`, `token_count` are not.
 */
export function isSecretKey(key: string): boolean {
  // Fast path (wide bodies have many keys): no secret word can be in a key without these letters.
  if (!MAYBE_SECRET.test(key)) return false;
  const words = keyWords(key);
  const last = words[words.length - 1];
  if (last === undefined) return false;
  if (LAST_WORDS.has(last)) return true;
  if (words.length >= 2 && LAST_TWO.has(`${words[words.length - 2]} ${last}`)) return true;
  return words.length === 1 && WHOLE.has(last);
}

export const REDACTED = '[redacted]';

/**
 * Replace the value under every secret key (an object as a whole) with "[redacted]", at any
 * depth (SPEC §7). Iterative, so hostile nesting cannot overflow the stack; returns a copy.
 */
export function redact<T>(value: T): T {
  const root: Record<string, unknown> = { v: value };
  // `into`: the parent's copy (an object, or an array filled by index).
  const stack: Array<{ from: unknown; into: JsonContainer; key: string | number }> = [
    { from: value, into: root, key: 'v' },
  ];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { from, into, key } = item;
    let copy: unknown = from;
    if (Array.isArray(from)) {
      const arr: unknown[] = new Array(from.length);
      for (let i = 0; i < from.length; i++) stack.push({ from: from[i], into: arr, key: i });
      copy = arr;
    } else if (typeof from === 'object' && from !== null) {
      const obj: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(from)) {
        if (isSecretKey(k)) obj[k] = REDACTED;
        else if (typeof x !== 'object' || x === null) obj[k] = x;
        else {
          // Assigned now (filled in later) so the copy keeps the original key order.
          obj[k] = null;
          stack.push({ from: x, into: obj, key: k });
        }
      }
      copy = obj;
    }
    putEntry(into, key, copy);
  }
  return root.v as T;
}

/** The paths (`a.b`, `list[0].c`) of every secret-named key in a value, at any depth. */
export function secretPaths(value: unknown): string[] {
  const found: string[] = [];
  const stack: Array<{ v: unknown; path: string }> = [{ v: value, path: '' }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { v, path } = item;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push({ v: v[i], path: `${path}[${i}]` });
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        const p = path ? `${path}.${k}` : k;
        if (isSecretKey(k)) found.push(p);
        else stack.push({ v: x, path: p });
      }
    }
  }
  return found.sort();
}
