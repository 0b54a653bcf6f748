import { isRecord } from '../../machines/values.ts';

/** Field schemas in words, for suggested fixes and the schema summary ("an integer from 3 to 12"). */

/** Enums longer than this are listed up to it, then counted. */
const MAX_LISTED = 40;

const A_TYPE: Record<string, string> = {
  string: 'text',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  array: 'a list',
  object: 'an object',
};

/** A value as shown in an issue: short, and URLs without their query (signed URLs carry credentials). */
export function shownValue(value: unknown): string {
  if (typeof value === 'string') {
    if (value.startsWith('data:')) return `${value.split(/[,;]/)[0]},…`;
    const text = /^https?:\/\//i.test(value) ? (value.split(/[?#]/)[0] ?? value) : value;
    return JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}…` : text);
  }
  const json = JSON.stringify(value) ?? String(value);
  return json.length > 60 ? `${json.slice(0, 57)}…` : json;
}

function typeName(prop: Record<string, unknown>): string | undefined {
  const t = Array.isArray(prop.type) ? prop.type.find((x) => x !== 'null') : prop.type;
  return typeof t === 'string' ? t : undefined;
}

function range(prop: Record<string, unknown>): string | null {
  const num = (k: string) => (typeof prop[k] === 'number' ? (prop[k] as number) : undefined);
  const [min, max, xmin, xmax] = [
    num('minimum'),
    num('maximum'),
    num('exclusiveMinimum'),
    num('exclusiveMaximum'),
  ];
  if (min !== undefined && max !== undefined) return `from ${min} to ${max}`;
  const low = min !== undefined ? `≥ ${min}` : xmin !== undefined ? `> ${xmin}` : null;
  const high = max !== undefined ? `≤ ${max}` : xmax !== undefined ? `< ${xmax}` : null;
  return [low, high].filter(Boolean).join(' and ') || null;
}

function lengths(prop: Record<string, unknown>, unit: string, minKey: string, maxKey: string): string | null {
  const [min, max] = [prop[minKey], prop[maxKey]];
  if (typeof min === 'number' && typeof max === 'number') return `${min} to ${max} ${unit}`;
  if (typeof min === 'number') return `at least ${min} ${unit}`;
  if (typeof max === 'number') return `at most ${max} ${unit}`;
  return null;
}

/** What a field takes, in words; every constraint the validator checks is named. */
export function describeField(prop: Record<string, unknown>): string {
  const parts: string[] = [];
  const type = typeName(prop);
  if (Array.isArray(prop.enum)) {
    const values = prop.enum
      .filter((v) => v !== null)
      .map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
    const listed =
      values.length > MAX_LISTED
        ? [...values.slice(0, MAX_LISTED), `… (${values.length - MAX_LISTED} more)`]
        : values;
    parts.push(values.length === 1 ? `exactly ${values[0]}` : `one of ${listed.join(', ')}`);
  } else if (prop.format === 'uri' && (type === 'string' || type === undefined)) {
    parts.push('an http(s) URL or a data: URI');
  } else if (type === 'array') {
    const count = lengths(prop, 'items', 'minItems', 'maxItems');
    const each = isRecord(prop.items) ? describeField(prop.items) : null;
    parts.push(
      ['a list', count ? `of ${count}` : null, each ? `, each ${each}` : null]
        .filter(Boolean)
        .join(' ')
        .replace(' ,', ','),
    );
  } else {
    parts.push((type && A_TYPE[type]) ?? 'any value');
    const r = type === 'integer' || type === 'number' ? range(prop) : null;
    if (r) parts.push(r);
    const len = type === 'string' ? lengths(prop, 'characters', 'minLength', 'maxLength') : null;
    if (len) parts.push(`of ${len}`);
    if (typeof prop.pattern === 'string') parts.push(`matching /${prop.pattern}/`);
  }
  if (prop.nullable === true || (Array.isArray(prop.type) && prop.type.includes('null')))
    parts.push('or null');
  return parts.join(' ');
}
