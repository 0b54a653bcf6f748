import { isRecord } from '../../machines/values.ts';

/** Small helpers over JSON values, shared by the providers. */

/** A string that is an http(s) URL or a data URI (what a model reads as a file). */
export function isUrlLike(value: unknown): value is string {
  return typeof value === 'string' && /^(https?:\/\/|data:)/i.test(value.trim());
}

/** The JSON type name of a value; whole numbers are `integer` (an `integer` also fits `number`). */
export function jsonType(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

const KNOWN_TYPES = new Set(['string', 'number', 'integer', 'boolean', 'array', 'object']);

/** Whether `value` fits the schema type `expected`; unknown type names fit anything. */
export function fitsType(expected: string, value: unknown): boolean {
  if (!KNOWN_TYPES.has(expected)) return true;
  const actual = jsonType(value);
  return actual === expected || (expected === 'number' && actual === 'integer');
}

/** A long natural-language string: demo text that must not leak into a run (SPEC §5). */
export function isPromptLike(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const text = value.trim();
  return !/^(https?:\/\/|data:)/i.test(text) && text.length >= 20 && /\s/.test(text);
}

/** Every http(s) URL written in free text, in order, trailing punctuation trimmed. */
export function urlsInText(text: string): string[] {
  const found = text.match(/https?:\/\/[^\s<>"'`]+/gi) ?? [];
  return found
    .map((url) => url.replace(/[.,;:!?)\]}]+$/, ''))
    .filter((url) => url.length > 'https://'.length);
}

/** Every URL-looking string inside a JSON value, depth first, in order. */
export function urlsInValue(value: unknown, out: string[] = []): string[] {
  if (isUrlLike(value)) out.push(value);
  else if (Array.isArray(value)) for (const item of value) urlsInValue(item, out);
  else if (isRecord(value)) for (const item of Object.values(value)) urlsInValue(item, out);
  return out;
}

/** Demo content that must not reach the model: a URL, long demo text, or a list made only of them. */
export function isDemo(example: unknown): boolean {
  if (Array.isArray(example)) return example.length > 0 && example.every(isDemo);
  return isUrlLike(example) || isPromptLike(example);
}
