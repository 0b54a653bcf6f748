import type { Capabilities, SchemaSummary } from '../../machines/schemas.ts';
import { urlsInText } from './json-values.ts';
import { describeField } from './replicate-describe.ts';
import { mediaFieldsOf, promptFieldOf } from './replicate-schema.ts';
import { attachmentsOf } from './replicate-validate.ts';
import type { BuiltPayload, ProviderRequest } from './types.ts';

function holds(value: unknown, url: string): boolean {
  return value === url || (Array.isArray(value) && value.includes(url));
}

/** Field → what it takes, in the schema's field order (from the input schema, else the types). */
function constraintsOf(caps: Capabilities, media: string[]): Record<string, string> {
  const props = caps.input_schema?.properties;
  const out: Record<string, string> = {};
  for (const field of Object.keys(caps.schema ?? {})) {
    const type = caps.types[field];
    const guessed = media.includes(field) && type !== 'array' ? { type: 'string', format: 'uri' } : { type };
    const prop = (props && Object.hasOwn(props, field) ? props[field] : undefined) ?? (type ? guessed : null);
    if (prop) out[field] = describeField(prop);
  }
  return out;
}

/**
 * SPEC §2.2 step 1, for the reviewer: required fields, file fields, where the prompt and each
 * attachment will go (as the built payload places them) and what each field takes.
 */
export function schemaSummary(
  req: ProviderRequest,
  caps: Capabilities,
  built: BuiltPayload,
  source: SchemaSummary['source'],
): SchemaSummary {
  const inPrompt = urlsInText(req.prompt);
  const attachments = attachmentsOf(req).map((a) => {
    const from = a.fromPrompt ? ('prompt' as const) : ('attachments' as const);
    const index = a.fromPrompt ? inPrompt.indexOf(a.url) : req.attachments.indexOf(a.url);
    const field =
      Object.keys(built.payload).find((f) => f !== built.prompt_field && holds(built.payload[f], a.url)) ??
      null;
    return { index, from, field };
  });
  const media = caps.schema ? mediaFieldsOf(caps, promptFieldOf(caps.schema, caps.types)) : [];
  return {
    source,
    required: caps.required,
    media_fields: media,
    prompt_field: built.prompt_field,
    attachments,
    constraints: constraintsOf(caps, media),
  };
}
