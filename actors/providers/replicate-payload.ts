import type { Capabilities } from '../../machines/schemas.ts';
import { isListField, isMediaField, promptFieldOf } from './replicate-schema.ts';
import { attachmentsOf, isDemo, validateReplicatePayload } from './replicate-validate.ts';
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
  for (const field of Object.keys(schema)) {
    const url = urls[next];
    if (url === undefined) break;
    if (field === promptField || !isMediaField(field, schema[field])) continue;
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
 * SPEC §5: config fields keep their example defaults; demo URLs and demo text are dropped unless
 * an attachment fills the field; the prompt and the attachments are placed; then validated.
 */
export function buildReplicatePayload(req: ProviderRequest, caps: Capabilities): BuiltPayload {
  if (!caps.schema) return validateReplicatePayload(req, caps, { prompt: req.prompt });
  const promptField = promptFieldOf(caps.schema, caps.types);
  const placed = placeAttachments(
    attachmentsOf(req).map((a) => a.url),
    caps,
    promptField,
  );
  const payload: Record<string, unknown> = {};
  for (const [field, example] of Object.entries(caps.schema)) {
    const value =
      field === promptField ? req.prompt : placed.has(field) ? placed.get(field) : keptExample(example);
    if (value !== undefined) payload[field] = value;
  }
  return validateReplicatePayload(req, caps, payload);
}
