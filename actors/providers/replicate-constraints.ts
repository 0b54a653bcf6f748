import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import safeRegex from 'safe-regex2';
import type { InputSchema, ValidationIssue } from '../../machines/schemas.ts';
import { isRecord } from '../../machines/values.ts';
import { isDemo, jsonType } from './json-values.ts';
import { describeField, shownValue } from './replicate-describe.ts';
import { toJsonSchema } from './replicate-input-schema.ts';

/** A compiled input schema, or why it could not be compiled. */
type Compiled = { validate: ValidateFunction; unchecked: string[] } | { failed: true };

/** Checks payloads against a model's input schema; compiled schemas are kept, a bounded number. */
export interface SchemaChecker {
  /** The payload's constraint issues; null when the schema cannot be used (types are checked instead). */
  check(
    input: InputSchema,
    payload: Record<string, unknown>,
    skipRequired: string[],
  ): ValidationIssue[] | null;
}

const CACHE_MAX = 100;
const DATA_URI = /^data:[^,]*,/i;

/** `format: uri` as Replicate reads a file input: an http(s) URL with a host, or a data URI. */
export function isWellFormedUri(value: string): boolean {
  if (DATA_URI.test(value)) return true;
  try {
    const url = new URL(value);
    return (
      (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' && !/\s/.test(value)
    );
  } catch {
    return false;
  }
}

function issue(field: string, text: string, fix: string, auto = false): ValidationIssue {
  return { field, issue: text, severity: 'error', suggested_fix: fix, auto_fixable: auto };
}

/** `/images/0` → `images[0]`; the top field and the schema the error is about. */
function located(err: ErrorObject, input: InputSchema) {
  const path = err.instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (err.keyword === 'required') path.push(String(err.params.missingProperty));
  const [top = '', ...rest] = path;
  let prop: Record<string, unknown> = (Object.hasOwn(input.properties, top) && input.properties[top]) || {};
  for (const _ of rest) prop = isRecord(prop.items) ? prop.items : {};
  const label = top + rest.map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`)).join('');
  return { top, label, prop };
}

function toIssue(err: ErrorObject, input: InputSchema): ValidationIssue {
  const { top, label, prop } = located(err, input);
  const allowed = describeField(prop);
  const shown = shownValue(err.data);
  const fix = `Set ${label} to ${allowed}`;
  switch (err.keyword) {
    case 'required': {
      const fallback = prop.default;
      if (fallback !== undefined && fallback !== null && !isDemo(fallback))
        return issue(
          label,
          `Required field ${label} is missing`,
          `Set ${label} to its default ${shownValue(fallback)}`,
          true,
        );
      return issue(label, `Required field ${label} is missing`, fix);
    }
    case 'type':
      if (err.data === null && !input.required.includes(top))
        return issue(label, `${label} must not be null`, 'Remove the field to use the model default', true);
      return issue(label, `${label} must be ${allowed}, got ${jsonType(err.data)}`, fix);
    case 'enum': {
      const single = Array.isArray(prop.enum) && prop.enum.filter((v) => v !== null).length === 1;
      return issue(label, `${label} is ${shown}: it must be ${allowed}`, fix, single);
    }
    case 'minLength':
    case 'maxLength':
      return issue(
        label,
        `${label} is ${[...String(err.data)].length} characters long: it must be ${allowed}`,
        fix,
      );
    case 'minItems':
    case 'maxItems':
      return issue(
        label,
        `${label} has ${Array.isArray(err.data) ? err.data.length : 0} items: it must be ${allowed}`,
        fix,
      );
    case 'format':
      return issue(label, `${label} is ${shown}, not a well-formed URL or data URI`, fix);
    default:
      // minimum, maximum, exclusiveMinimum, exclusiveMaximum, pattern, and anything else.
      return issue(label, `${label} is ${shown}: it must be ${allowed}`, fix);
  }
}

/** Patterns that could backtrack for long (nested quantifiers) or do not compile are left unchecked. */
function withSafePatterns(
  prop: Record<string, unknown>,
  field: string,
  unchecked: string[],
): Record<string, unknown> {
  const out = { ...prop };
  if (typeof out.pattern === 'string') {
    let ok = false;
    try {
      ok = safeRegex(new RegExp(out.pattern, 'u'));
    } catch {}
    if (!ok) {
      unchecked.push(field);
      delete out.pattern;
    }
  }
  if (isRecord(out.items)) out.items = withSafePatterns(out.items, `${field}[]`, unchecked);
  return out;
}

/** A checker over `ajv` (allErrors, the OpenAPI `nullable` mapped to JSON Schema, `uri` as above). */
export function createSchemaChecker(): SchemaChecker {
  const ajv = new Ajv({
    allErrors: true,
    strict: false,
    logger: false,
    verbose: true,
    formats: { uri: isWellFormedUri },
  });
  const cache = new Map<string, Compiled>();

  function compiled(input: InputSchema): Compiled {
    const key = JSON.stringify(input);
    const hit = cache.get(key);
    if (hit) return hit;
    const unchecked: string[] = [];
    const properties = Object.fromEntries(
      Object.entries(input.properties).map(([f, p]) => [f, withSafePatterns(toJsonSchema(p), f, unchecked)]),
    );
    let entry: Compiled;
    try {
      entry = { validate: ajv.compile({ type: 'object', properties, required: input.required }), unchecked };
    } catch {
      entry = { failed: true };
    }
    if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value ?? '');
    cache.set(key, entry);
    return entry;
  }

  return {
    check(input, payload, skipRequired) {
      const entry = compiled(input);
      if ('failed' in entry) return null;
      entry.validate(payload);
      const seen = new Set<string>();
      const issues: ValidationIssue[] = [];
      for (const err of entry.validate.errors ?? []) {
        const found = toIssue(err, input);
        if (seen.has(found.field) || (err.keyword === 'required' && skipRequired.includes(found.field)))
          continue;
        seen.add(found.field);
        issues.push(found);
      }
      for (const field of entry.unchecked.filter((f) => Object.hasOwn(payload, f.replace(/\[\]$/, '')))) {
        const text = `The model's pattern for ${field} is not checked here (it could take too long to match)`;
        issues.push({
          field,
          issue: text,
          severity: 'warning',
          suggested_fix: `Check ${field} by hand`,
          auto_fixable: false,
        });
      }
      return issues;
    },
  };
}
