import type { InputSchema } from '../../machines/schemas.ts';
import { isRecord } from '../../machines/values.ts';

/** The keywords kept from a field's schema: what validation and the summary read, plus help text. */
const KEPT = [
  'type',
  'enum',
  'format',
  'default',
  'nullable',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minLength',
  'maxLength',
  'pattern',
  'items',
  'minItems',
  'maxItems',
  'description',
  'x-order',
] as const;
const MAX_DEPTH = 8;
const REF_PREFIX = '#/components/schemas/';

type Schemas = Record<string, unknown>;

/** A `$ref` to a component, resolved; anything else (or a missing target) is an empty schema. */
function target(ref: unknown, schemas: Schemas): Record<string, unknown> {
  if (typeof ref !== 'string' || !ref.startsWith(REF_PREFIX)) return {};
  const found = schemas[ref.slice(REF_PREFIX.length)];
  return isRecord(found) ? found : {};
}

/**
 * One field's schema with `$ref` and `allOf` folded in (Replicate's older style puts an enum in a
 * component referenced through `allOf`), OpenAPI 3.0's boolean `exclusiveMinimum` turned into the
 * number form, and only the KEPT keywords left. Depth-bounded, so a cyclic schema cannot loop.
 */
function flatten(prop: Record<string, unknown>, schemas: Schemas, depth: number): Record<string, unknown> {
  if (depth > MAX_DEPTH) return {};
  const parts = [prop.$ref !== undefined ? target(prop.$ref, schemas) : {}];
  if (Array.isArray(prop.allOf)) {
    for (const part of prop.allOf) {
      if (isRecord(part))
        parts.push(flatten(part.$ref !== undefined ? target(part.$ref, schemas) : part, schemas, depth + 1));
    }
  }
  // The field's own keywords win over the referenced component's (its default, its x-order).
  const merged: Record<string, unknown> = Object.assign({}, ...parts, prop);
  const out: Record<string, unknown> = {};
  for (const key of KEPT) if (merged[key] !== undefined) out[key] = merged[key];
  for (const [bound, exclusive] of [
    ['minimum', 'exclusiveMinimum'],
    ['maximum', 'exclusiveMaximum'],
  ] as const) {
    if (out[exclusive] === true && typeof out[bound] === 'number') {
      out[exclusive] = out[bound];
      delete out[bound];
    } else if (typeof out[exclusive] !== 'number') delete out[exclusive];
  }
  if (isRecord(out.items)) out.items = flatten(out.items, schemas, depth + 1);
  else delete out.items;
  return out;
}

/** The `Input` schema of a Replicate version's `openapi_schema`, flattened; null when it has none. */
export function inputSchemaFromOpenApi(openapi: unknown): InputSchema | null {
  const components = isRecord(openapi) && isRecord(openapi.components) ? openapi.components : null;
  const schemas = components && isRecord(components.schemas) ? components.schemas : null;
  const input = schemas && isRecord(schemas.Input) ? schemas.Input : null;
  if (!schemas || !input || !isRecord(input.properties)) return null;
  const properties: InputSchema['properties'] = {};
  for (const [field, prop] of Object.entries(input.properties)) {
    // `__proto__` as a key would set the object's prototype, not add a field.
    if (isRecord(prop) && field !== '__proto__') properties[field] = flatten(prop, schemas, 0);
  }
  const required = Array.isArray(input.required)
    ? input.required.filter((f): f is string => typeof f === 'string' && f in properties)
    : [];
  return { properties, required };
}

/** A field's JSON Schema as a validator reads it: `nullable` becomes a `null` in `type` and `enum`. */
export function toJsonSchema(prop: Record<string, unknown>): Record<string, unknown> {
  const { nullable, description: _d, default: _v, 'x-order': _o, ...rest } = prop;
  const out: Record<string, unknown> = { ...rest };
  if (isRecord(rest.items)) out.items = toJsonSchema(rest.items);
  if (nullable === true) {
    if (typeof rest.type === 'string') out.type = [rest.type, 'null'];
    if (Array.isArray(rest.enum) && !rest.enum.includes(null)) out.enum = [...rest.enum, null];
  }
  return out;
}

/** Whether a field's schema takes a file: a URI string, or a list of them. */
export function takesUri(prop: Record<string, unknown> | undefined): boolean {
  if (!prop) return false;
  if (prop.format === 'uri') return true;
  return isRecord(prop.items) && prop.items.format === 'uri';
}
