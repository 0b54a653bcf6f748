import { HitlError } from '../actors/errors.ts';

/** Deepest nesting of objects and arrays any accepted JSON may have (SPEC §7). */
export const MAX_JSON_DEPTH = 64;

// A surrogate half without its partner (Postgres refuses it in text and jsonb, as it does NUL).
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** True when a string holds a NUL character or a lone surrogate. */
export function hasBadChar(s: string): boolean {
  return s.includes('\u0000') || (s as string & { isWellFormed(): boolean }).isWellFormed() === false;
}

/** The string with NUL and lone surrogates replaced (for naming a bad key in a message). */
function shown(s: string): string {
  return s.replaceAll('\u0000', '?').replace(LONE_SURROGATE, '?');
}

/** What is wrong with a parsed JSON value, and where (`a.b[2]`), or null when it may be accepted. */
export interface JsonProblem {
  path: string;
  problem: string;
}

const child = (path: string, key: string | number) =>
  typeof key === 'number'
    ? `${path}[${key}]`
    : /^[A-Za-z_$][\w$]*$/.test(key)
      ? `${path ? `${path}.` : ''}${key}`
      : `${path}[${JSON.stringify(key).slice(0, 40)}]`;

/**
 * Checks a parsed JSON value without recursion (a hostile value cannot overflow the stack here):
 * nesting deeper than `MAX_JSON_DEPTH`, a NUL character or a lone surrogate in any string or key.
 */
export function jsonProblem(value: unknown, maxDepth = MAX_JSON_DEPTH): JsonProblem | null {
  const stack: Array<{ v: unknown; path: string; depth: number }> = [{ v: value, path: '', depth: 0 }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { v, path, depth } = item;
    if (typeof v === 'string') {
      if (hasBadChar(v))
        return { path: path || '(body)', problem: 'holds a NUL character or a lone surrogate' };
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    if (depth + 1 > maxDepth)
      return { path: path || '(body)', problem: `is nested deeper than ${maxDepth} levels` };
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], path: child(path, i), depth: depth + 1 });
      continue;
    }
    for (const [k, x] of Object.entries(v)) {
      if (hasBadChar(k))
        return {
          path: child(path, shown(k)),
          problem: 'has a key with a NUL character or a lone surrogate',
        };
      stack.push({ v: x, path: child(path, k), depth: depth + 1 });
    }
  }
  return null;
}

/** `422 invalid_request` naming the path when a value fails `jsonProblem`. */
export function assertAcceptableJson(value: unknown, where = ''): void {
  const found = jsonProblem(value);
  if (!found) return;
  const field = [where, found.path === '(body)' ? '' : found.path].filter(Boolean).join('.') || '(body)';
  throw new HitlError('invalid_request', `Invalid request: ${field} ${found.problem}`, {
    fields: [field],
    issues: [{ field, message: found.problem, code: 'hostile_json' }],
  });
}
