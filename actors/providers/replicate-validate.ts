import { isDeepStrictEqual } from 'node:util';
import type { Capabilities, Severity, ValidationIssue } from '../../machines/schemas.ts';
import { fitsType, isDemo, isPromptLike, jsonType, urlsInText } from './json-values.ts';
import type { SchemaChecker } from './replicate-constraints.ts';
import { mediaFieldsOf, PROMPT_FIELDS, promptFieldOf } from './replicate-schema.ts';
import type { BuiltPayload, ProviderRequest } from './types.ts';

/** An attachment to place: `document_url`, then `attachments`, then URLs found in the prompt. */
export interface Attachment {
  url: string;
  /** URLs found in the prompt also travel inside the prompt text, so leaving one unplaced loses nothing. */
  fromPrompt: boolean;
}

/** The run's attachments in placement order, without duplicates. */
export function attachmentsOf(req: ProviderRequest): Attachment[] {
  const seen = new Set<string>();
  const out: Attachment[] = [];
  const sources = [
    [req.attachments, false],
    [urlsInText(req.prompt), true],
  ] as const;
  for (const [urls, fromPrompt] of sources) {
    for (const url of urls) {
      if (seen.has(url)) continue;
      seen.add(url);
      out.push({ url, fromPrompt });
    }
  }
  return out;
}

function issue(
  field: string,
  text: string,
  severity: Severity,
  fix: string | null,
  auto: boolean,
): ValidationIssue {
  return { field, issue: text, severity, suggested_fix: fix, auto_fixable: auto };
}

/** A URL as shown in an issue: no query string, since signed URLs carry credentials there. */
function shown(url: string): string {
  if (url.startsWith('data:')) return `${url.split(/[,;]/)[0]},…`;
  return url.split(/[?#]/)[0] ?? url;
}

function holds(value: unknown, url: string): boolean {
  return value === url || (Array.isArray(value) && value.includes(url));
}

function isEmptyText(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'string' && value.trim() === '');
}

/** What every rule looks at. */
interface Check {
  req: ProviderRequest;
  caps: Capabilities;
  schema: Record<string, unknown> | null;
  payload: Record<string, unknown>;
  promptField: string | null;
  attachmentFields: string[];
  /** The input schema's constraint issues; null when there is no usable input schema. */
  constraintIssues: ValidationIssue[] | null;
}

function promptNotPlaced({ payload, promptField }: Check): ValidationIssue[] {
  if (promptField === null) {
    const fix = `Put the prompt in the field this model reads (${PROMPT_FIELDS.join(', ')} were tried)`;
    return [issue('prompt', 'The model has no prompt field: the prompt is not sent', 'error', fix, false)];
  }
  if (typeof payload[promptField] === 'string') return [];
  return [issue(promptField, 'The prompt is not placed', 'error', `Set ${promptField} to the prompt`, true)];
}

function attachmentsNotPlaced({
  req,
  caps,
  schema,
  payload,
  promptField,
  attachmentFields,
}: Check): ValidationIssue[] {
  const media = mediaFieldsOf(caps, promptField);
  const fix =
    media.length > 0
      ? `Put it in one of: ${media.join(', ')}`
      : schema
        ? 'This model takes no file: remove the attachment or choose another model'
        : "The model's inputs are unknown: add the field that takes this file";
  return attachmentsOf(req).flatMap((a, i) =>
    a.fromPrompt || attachmentFields.some((f) => holds(payload[f], a.url))
      ? []
      : [
          issue(
            `attachments[${i}]`,
            `Attachment ${shown(a.url)} is not placed in any field`,
            'error',
            fix,
            false,
          ),
        ],
  );
}

/** The prompt field is always required; other prompt-like fields when the schema says so. */
function requiredTextEmpty({ caps, schema, payload, promptField }: Check): ValidationIssue[] {
  const promptLike = Object.keys(schema ?? { prompt: '' }).filter(
    (f) => (PROMPT_FIELDS as readonly string[]).includes(f) || f.includes('prompt'),
  );
  return promptLike
    .filter((f) => f === promptField || caps.required.includes(f))
    .filter((f) => !(f === promptField && payload[f] === undefined)) // reported as not placed
    .filter((f) => isEmptyText(payload[f]))
    .map((f) => issue(f, `Required field ${f} is empty`, 'error', `Write the text for ${f}`, false));
}

/** Every constraint of the model's input schema (enum, range, length, pattern, uri, items, required). */
function schemaConstraints({ caps, constraintIssues }: Check): ValidationIssue[] {
  if (constraintIssues || !caps.input_schema) return constraintIssues ?? [];
  const text = "The model's input schema could not be compiled: only types are checked";
  return [issue('schema', text, 'warning', 'Check the payload against the model page by hand', false)];
}

/** Types from the schema, for fields the input schema did not already check. */
function wrongTypes({ caps, payload, constraintIssues }: Check): ValidationIssue[] {
  const checked = constraintIssues ? (caps.input_schema?.properties ?? {}) : {};
  return Object.entries(payload).flatMap(([field, value]) => {
    const expected = Object.hasOwn(checked, field) ? undefined : caps.types[field];
    if (expected === undefined || fitsType(expected, value)) return [];
    const fix =
      value === null ? 'Remove the field to use the model default' : `Give ${field} a ${expected} value`;
    return [
      issue(field, `${field} must be ${expected}, got ${jsonType(value)}`, 'error', fix, value === null),
    ];
  });
}

function unknownFields({ schema, payload }: Check): ValidationIssue[] {
  if (!schema) return [];
  return Object.keys(payload)
    .filter((f) => !(f in schema))
    .map((f) => issue(f, `${f} is not an input of this model`, 'warning', 'Remove the field', true));
}

function emptyLists({ payload }: Check): ValidationIssue[] {
  return Object.entries(payload)
    .filter(([, value]) => Array.isArray(value) && value.length === 0)
    .map(([f]) => issue(f, `${f} is an empty list`, 'info', 'Add items or remove the field', true));
}

function demoLeftOut({ schema, payload, promptField }: Check): ValidationIssue[] {
  return Object.entries(schema ?? {})
    .filter(([f, example]) => f !== promptField && !(f in payload) && isDemo(example))
    .map(([f, example]) => {
      const what = isPromptLike(example) ? 'demo text' : 'demo file';
      const text = `The model's ${what} in ${f} was left out so it does not leak into this run`;
      return issue(f, text, 'info', `Set ${f} if this run needs it`, false);
    });
}

/** One error per field: the first rule that finds one speaks (an empty required prompt is not also "too short"). */
function onePerField(issues: ValidationIssue[]): ValidationIssue[] {
  const errored = new Set<string>();
  return issues.filter((i) => {
    if (i.severity !== 'error') return true;
    if (errored.has(i.field)) return false;
    errored.add(i.field);
    return true;
  });
}

const RULES = [
  promptNotPlaced,
  attachmentsNotPlaced,
  requiredTextEmpty,
  schemaConstraints,
  wrongTypes,
  unknownFields,
  emptyLists,
  demoLeftOut,
];

/** SPEC §5 validation (also after human edits): rule by rule, fields in schema or payload order. */
export function validateReplicatePayload(
  req: ProviderRequest,
  caps: Capabilities,
  payload: Record<string, unknown>,
  checker: SchemaChecker,
): BuiltPayload {
  const schema = caps.schema;
  const promptField = promptFieldOf(schema, caps.types);
  const urls = attachmentsOf(req).map((a) => a.url);
  const attachmentFields = Object.keys(payload).filter(
    (f) => f !== promptField && urls.some((url) => holds(payload[f], url)),
  );
  // A missing prompt is reported as "not placed", not again as a missing required field.
  const skip = promptField !== null && !(promptField in payload) ? [promptField] : [];
  const constraintIssues = caps.input_schema ? checker.check(caps.input_schema, payload, skip) : null;
  const check: Check = { req, caps, schema, payload, promptField, attachmentFields, constraintIssues };
  const changed = Object.keys(payload).filter(
    (f) => f !== promptField && !attachmentFields.includes(f) && !isDeepStrictEqual(payload[f], schema?.[f]),
  );
  return {
    payload,
    issues: onePerField(RULES.flatMap((rule) => rule(check))),
    changed_fields: changed.length,
    prompt_field: promptField !== null && promptField in payload ? promptField : null,
    attachment_fields: attachmentFields,
  };
}
