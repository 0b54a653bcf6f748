// @ts-check
/**
 * The payload as a form generated from the model's input schema (the `input_schema` of a
 * payload_review or error_recovery context): one field per schema property in `x-order`, each with
 * the control its schema calls for (`enum` → select, integer/number → bounded number input,
 * boolean → toggle, URI → URL field with a media preview, else text or JSON). Pure: what a typed
 * input means for the payload is decided here, so the store can be tested without a browser.
 */
import { asObject } from './values.js';

/**
 * @typedef {object} FormField
 * @property {string} name
 * @property {'select' | 'integer' | 'number' | 'boolean' | 'uri' | 'text' | 'json'} kind
 * @property {string} title
 * @property {string} description help text (the schema's description)
 * @property {unknown[]} options the enum values (select only)
 * @property {number | null} min inclusive lower bound (number kinds)
 * @property {number | null} max inclusive upper bound (number kinds)
 * @property {boolean} exclusiveMin
 * @property {boolean} exclusiveMax
 * @property {boolean} required
 * @property {boolean} nullable
 * @property {unknown} default
 */

/** @typedef {{ properties: Record<string, Record<string, unknown>>, required: string[] }} InputSchema */

/**
 * The input schema of an approval's context, when it is one.
 * @param {unknown} raw
 * @returns {InputSchema | null}
 */
export function readSchema(raw) {
  const schema = asObject(raw);
  const props = asObject(schema?.properties);
  if (!schema || !props) return null;
  /** @type {Record<string, Record<string, unknown>>} */
  const properties = {};
  for (const [name, value] of Object.entries(props)) {
    const prop = asObject(value);
    if (prop) properties[name] = prop;
  }
  const required = Array.isArray(schema.required) ? schema.required.map(String) : [];
  return Object.keys(properties).length > 0 ? { properties, required } : null;
}

/**
 * A property with `allOf: [{ enum }]` (older Replicate style, references already resolved) read as
 * one flat property.
 * @param {Record<string, unknown>} prop
 */
function flat(prop) {
  const parts = Array.isArray(prop.allOf) ? prop.allOf.filter((p) => asObject(p) !== null) : [];
  return Object.assign({}, ...parts, prop);
}

/**
 * @param {string} name
 * @param {Record<string, unknown>} raw
 * @param {boolean} required
 * @returns {FormField}
 */
function fieldOf(name, raw, required) {
  const p = flat(raw);
  const num = (/** @type {unknown} */ v) => (typeof v === 'number' ? v : null);
  const exMin = typeof p.exclusiveMinimum === 'number' ? p.exclusiveMinimum : null;
  const exMax = typeof p.exclusiveMaximum === 'number' ? p.exclusiveMaximum : null;
  /** @type {FormField['kind']} */
  let kind = 'text';
  if (Array.isArray(p.enum)) kind = 'select';
  else if (p.type === 'integer') kind = 'integer';
  else if (p.type === 'number') kind = 'number';
  else if (p.type === 'boolean') kind = 'boolean';
  else if (p.type === 'string' && p.format === 'uri') kind = 'uri';
  else if (p.type === 'array' || p.type === 'object') kind = 'json';
  return {
    name,
    kind,
    title: typeof p.title === 'string' && p.title ? p.title : name,
    description: typeof p.description === 'string' ? p.description : '',
    options: Array.isArray(p.enum) ? p.enum : [],
    min: exMin ?? num(p.minimum),
    max: exMax ?? num(p.maximum),
    exclusiveMin: exMin !== null,
    exclusiveMax: exMax !== null,
    required,
    nullable: p.nullable === true,
    default: p.default,
  };
}

/**
 * The form's fields in the schema's `x-order` (fields without one after, by name), then any payload
 * field the schema does not know (as JSON).
 * @param {InputSchema} schema
 * @param {Record<string, unknown>} payload
 * @returns {FormField[]}
 */
export function formFields(schema, payload) {
  const order = (/** @type {string} */ n) => {
    const o = schema.properties[n]?.['x-order'];
    return typeof o === 'number' ? o : Number.POSITIVE_INFINITY;
  };
  const names = Object.keys(schema.properties).sort((a, b) => order(a) - order(b) || (a < b ? -1 : 1));
  const fields = names.map((n) => fieldOf(n, schema.properties[n] ?? {}, schema.required.includes(n)));
  for (const extra of Object.keys(payload)) {
    if (!Object.hasOwn(schema.properties, extra)) fields.push(fieldOf(extra, { type: 'object' }, false));
  }
  return fields;
}

/**
 * The allowed range of a number field, in words.
 * @param {FormField} f
 */
export function rangeText(f) {
  const lo = f.min === null ? null : `${f.exclusiveMin ? 'above' : 'from'} ${f.min}`;
  const hi = f.max === null ? null : `${f.exclusiveMax ? 'below' : 'to'} ${f.max}`;
  return [lo, hi].filter(Boolean).join(' ');
}

/**
 * The text a control shows for a value.
 * @param {FormField} f
 * @param {unknown} value
 */
export function inputText(f, value) {
  if (value === undefined || value === null) return '';
  if (f.kind === 'json') return JSON.stringify(value);
  if (f.kind === 'select') return JSON.stringify(value);
  return String(value);
}

/**
 * What a control's input means for the payload: a value, the field left out (`unset`), or why it
 * cannot be sent. `wasSent` says whether the payload under review has the field (an edit is merged
 * into it, so such a field cannot be left out, only set — to null where the schema allows).
 * @param {FormField} f
 * @param {string | boolean} input the control's value (a select's is the JSON of an option)
 * @param {boolean} wasSent
 * @returns {{ value: unknown } | { unset: true } | { problem: string }}
 */
export function readInput(f, input, wasSent) {
  if (typeof input === 'boolean') return { value: input };
  const raw = input.trim();
  if (raw === '') {
    if (!wasSent && !f.required) return { unset: true };
    if (f.nullable) return { value: null };
    return {
      problem: wasSent ? `${f.name} is in the payload and cannot be left empty.` : `${f.name} is required.`,
    };
  }
  switch (f.kind) {
    case 'select': {
      const value = JSON.parse(raw);
      return f.options.some((o) => JSON.stringify(o) === JSON.stringify(value))
        ? { value }
        : { problem: `${f.name} takes one of ${f.options.map(String).join(', ')}.` };
    }
    case 'integer':
    case 'number': {
      const value = Number(raw);
      if (!Number.isFinite(value)) return { problem: `${f.name} must be a number.` };
      if (f.kind === 'integer' && !Number.isInteger(value))
        return { problem: `${f.name} must be a whole number.` };
      const low = f.min !== null && (f.exclusiveMin ? value <= f.min : value < f.min);
      const high = f.max !== null && (f.exclusiveMax ? value >= f.max : value > f.max);
      if (low || high) return { problem: `${f.name} must be ${rangeText(f)}.` };
      return { value };
    }
    case 'uri':
      if (/^data:/i.test(raw)) return { value: raw };
      try {
        const url = new URL(raw);
        if (url.protocol === 'https:' || url.protocol === 'http:') return { value: raw };
      } catch {
        // falls through to the problem
      }
      return { problem: `${f.name} must be an http(s) URL or a data: URI.` };
    case 'json':
      try {
        return { value: JSON.parse(raw) };
      } catch {
        return { problem: `${f.name} must be JSON.` };
      }
    default:
      return { value: input };
  }
}
