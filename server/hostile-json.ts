import { HitlError } from '../actors/errors.ts';

/** Deepest nesting of objects and arrays any accepted JSON may have (SPEC §7). */
export const MAX_JSON_DEPTH = 64;

/**
 * Most object keys (counted over the whole document) an accepted JSON may have: tens of thousands
 * of fields cost every layer (parse, schema, redaction, storage) and stalled other requests.
 */
export const MAX_JSON_KEYS = 10_000;

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

interface Node {
  v: unknown;
  parent: Node | null;
  key: string | number;
  depth: number;
}

/** `a.b[2]` of a node, built only when a problem is reported (wide bodies have many keys). */
function pathOf(node: Node | null): string {
  const parts: Array<string | number> = [];
  for (let n = node; n?.parent; n = n.parent) parts.unshift(n.key);
  let path = '';
  for (const k of parts) {
    if (typeof k === 'number') path += `[${k}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(k)) path += path ? `.${k}` : k;
    else path += `[${JSON.stringify(shown(k)).slice(0, 40)}]`;
  }
  return path || '(body)';
}

/**
 * Checks a parsed JSON value without recursion (a hostile value cannot overflow the stack here):
 * nesting deeper than `maxDepth`, more than `maxKeys` object keys, a NUL character or a lone
 * surrogate in any string or key.
 */
export function jsonProblem(
  value: unknown,
  maxDepth = MAX_JSON_DEPTH,
  maxKeys = MAX_JSON_KEYS,
): JsonProblem | null {
  const stack: Node[] = [{ v: value, parent: null, key: '', depth: 0 }];
  let keys = 0;
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    const { v, depth } = node;
    if (typeof v === 'string') {
      if (hasBadChar(v)) return { path: pathOf(node), problem: 'holds a NUL character or a lone surrogate' };
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    if (depth + 1 > maxDepth)
      return { path: pathOf(node), problem: `is nested deeper than ${maxDepth} levels` };
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], parent: node, key: i, depth: depth + 1 });
      continue;
    }
    for (const k in v) {
      if (++keys > maxKeys) return { path: '(body)', problem: `has more than ${maxKeys} object keys` };
      if (hasBadChar(k)) {
        return {
          path: pathOf({ v: null, parent: node, key: k, depth }),
          problem: 'has a key with a NUL character or a lone surrogate',
        };
      }
      stack.push({ v: (v as Record<string, unknown>)[k], parent: node, key: k, depth: depth + 1 });
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
