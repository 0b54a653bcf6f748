import type { Capabilities } from '../../machines/schemas.ts';
import { isDemo } from './json-values.ts';
import type { SchemaChecker } from './replicate-constraints.ts';
import { isListField, mediaFieldsOf, promptFieldOf } from './replicate-schema.ts';
import { attachmentsOf, validateReplicatePayload } from './replicate-validate.ts';
import type { BuiltPayload, ProviderRequest } from './types.ts';

/** The example value a config field keeps, or undefined when it is dropped. */
function keptExample(example: unknown): unknown {
  if (example === null || example === undefined || isDemo(example)) return undefined;
  if (Array.isArray(example)) return structuredClone(example.filter((item) => !isDemo(item)));
  return structuredClone(example);
}

/** Attachments go into the file fields in schema order; a list field takes all that remain. */
function placeAttachments(
  urls: string[],
  caps: Capabilities,
  promptField: string | null,
): Map<string, unknown> {
  const placed = new Map<string, unknown>();
  const schema = caps.schema ?? {};
  let next = 0;
  for (const field of mediaFieldsOf(caps, promptField)) {
    const url = urls[next];
    if (url === undefined) break;
    if (isListField(field, schema, caps.types)) {
      placed.set(field, urls.slice(next));
      next = urls.length;
    } else {
      placed.set(field, url);
      next += 1;
    }
  }
  return placed;
}

/**
 * The schema's default for a required field the payload leaves out (never demo content), else
 * undefined: the only openapi defaults that are sent; the model applies its other defaults itself.
 */
function requiredDefault(caps: Capabilities, field: string): unknown {
  if (!caps.input_schema?.required.includes(field)) return undefined;
  return keptExample(caps.input_schema.properties[field]?.default);
}

/**
 * SPEC §5: config fields keep their example_input defaults (a schema from openapi alone sends
 * only what the run supplies); demo URLs and demo text are dropped unless an attachment fills the
 * field; the prompt and the attachments are placed; required fields left out get the schema's
 * default; then everything is validated.
 */
export function buildReplicatePayload(
  req: ProviderRequest,
  caps: Capabilities,
  checker: SchemaChecker,
): BuiltPayload {
  if (!caps.schema) return validateReplicatePayload(req, caps, { prompt: req.prompt }, checker);
  const promptField = promptFieldOf(caps.schema, caps.types);
  const placed = placeAttachments(
    attachmentsOf(req).map((a) => a.url),
    caps,
    promptField,
  );
  const examplesSent = caps.schema_summary?.source !== 'openapi_schema';
  const payload: Record<string, unknown> = {};
  for (const [field, example] of Object.entries(caps.schema)) {
    const value =
      field === promptField
        ? req.prompt
        : placed.has(field)
          ? placed.get(field)
          : ((examplesSent ? keptExample(example) : undefined) ?? requiredDefault(caps, field));
    if (value !== undefined) payload[field] = value;
  }
  return validateReplicatePayload(req, caps, payload, checker);
}
