import { z } from 'zod';
import type { Capabilities, InputSchema } from '../../machines/schemas.ts';
import { isRecord } from '../../machines/values.ts';
import { isUrlLike, jsonType } from './json-values.ts';
import { inputSchemaFromOpenApi, takesUri } from './replicate-input-schema.ts';

/** Fields that take the prompt, in the order they are tried (SPEC §5). */
export const PROMPT_FIELDS = ['prompt', 'text', 'input', 'query', 'instruction'] as const;

/**
 * Field names known to take a file. A field whose example value is a URL (or a list of URLs) is
 * a file field too, whatever its name.
 */
export const MEDIA_FIELDS: readonly string[] = (
  'image images input_image input_images image_input image_url image_urls first_frame_image ' +
  'last_frame_image start_image end_image init_image reference_image reference_images control_image ' +
  'source_image target_image mask mask_image audio input_audio audio_file audio_url speaker_audio ' +
  'video input_video video_url input_file file document'
).split(' ');

/** What a Replicate model config (`agent_tool_config` value, `data` unwrapped) says. */
export interface ModelConfig {
  model: string | null;
  version: string | null;
  description: string;
  example: Record<string, unknown> | null;
  /** An `openapi_schema` carried inside a `latest_version` object, if any. */
  openapi: unknown;
  cost: number | null;
}

const MODEL_NAME = /^[\w.-]+\/[\w.-]+$/;

/** Read the model config leniently: unknown or malformed fields count as absent. */
export function parseModelConfig(config: Record<string, unknown>): ModelConfig {
  const rawName = typeof config.name === 'string' ? config.name : config.model_name;
  const [namePart, nameVersion] = typeof rawName === 'string' ? rawName.trim().split(':') : [];
  const rawVersion = config.latest_version ?? config.version;
  const versionObject = isRecord(rawVersion) ? rawVersion : null;
  const versionId = versionObject ? versionObject.id : rawVersion;
  const version =
    typeof versionId === 'string' && versionId.trim() ? versionId.trim() : (nameVersion ?? null);
  const cost = config.cost_per_run;
  return {
    model: namePart && MODEL_NAME.test(namePart) ? namePart : null,
    version: version?.includes(':') ? (version.split(':').pop() ?? null) : version,
    description: typeof config.description === 'string' ? config.description : '',
    example: isRecord(config.example_input) ? config.example_input : null,
    openapi: versionObject?.openapi_schema ?? null,
    cost: typeof cost === 'number' && Number.isFinite(cost) && cost >= 0 ? cost : null,
  };
}

/** Schema, required fields and types: the shape `Capabilities` carries. */
export interface SchemaInfo {
  schema: Record<string, unknown>;
  required: string[];
  types: Record<string, string>;
  /** The openapi `Input` schema, flattened (null from example_input alone). */
  input: InputSchema | null;
}

/** From example_input: numbers are typed `number`, since a demo value `3` says nothing about 3.5. */
export function schemaFromExample(example: Record<string, unknown>): SchemaInfo {
  const types: Record<string, string> = {};
  for (const [field, value] of Object.entries(example)) {
    const type = jsonType(value);
    if (type !== 'null') types[field] = type === 'integer' ? 'number' : type;
  }
  return { schema: example, required: [], types, input: null };
}

const Property = z.looseObject({
  type: z.string().optional(),
  default: z.unknown().optional(),
  'x-order': z.number().optional(),
  $ref: z.string().optional(),
  allOf: z.array(z.looseObject({ $ref: z.string().optional() })).optional(),
});
const OpenApi = z.looseObject({
  components: z.looseObject({
    schemas: z.record(z.string(), z.unknown()).and(
      z.looseObject({
        Input: z.looseObject({
          properties: z.record(z.string(), Property),
          required: z.array(z.string()).optional(),
        }),
      }),
    ),
  }),
});

/** From a version's `openapi_schema`: field → its default (or null), in `x-order`; null when unreadable. */
export function schemaFromOpenApi(openapi: unknown): SchemaInfo | null {
  // Most tool configs have none: a failed zod parse builds an error (issues, messages) for nothing.
  if (!isRecord(openapi)) return null;
  const parsed = OpenApi.safeParse(openapi);
  if (!parsed.success) return null;
  const schemas = parsed.data.components.schemas;
  const input = parsed.data.components.schemas.Input;
  // Enums are separate schemas referenced through allOf/$ref: their type lives there.
  const refType = (ref: string | undefined): string | undefined => {
    const target = ref?.startsWith('#/components/schemas/') ? schemas[ref.slice(21)] : undefined;
    return isRecord(target) && typeof target.type === 'string' ? target.type : undefined;
  };
  const entries = Object.entries(input.properties).sort(
    ([, a], [, b]) => (a['x-order'] ?? Number.MAX_SAFE_INTEGER) - (b['x-order'] ?? Number.MAX_SAFE_INTEGER),
  );
  const schema: Record<string, unknown> = {};
  const types: Record<string, string> = {};
  for (const [field, prop] of entries) {
    schema[field] = prop.default ?? null;
    const type = prop.type ?? refType(prop.$ref) ?? refType(prop.allOf?.[0]?.$ref);
    if (type) types[field] = type;
  }
  return { schema, required: input.required ?? [], types, input: inputSchemaFromOpenApi(openapi) };
}

/**
 * Both sources: example_input keeps its fields, values and order (its values are the defaults
 * sent); the openapi schema adds its other fields (no value), the exact types, `required` and the
 * constraints every payload is checked against.
 */
export function mergeSchemaInfo(example: SchemaInfo | null, openapi: SchemaInfo | null): SchemaInfo | null {
  if (!example || !openapi) return example ?? openapi;
  const schema = { ...example.schema };
  for (const field of Object.keys(openapi.schema)) if (!(field in schema)) schema[field] = null;
  return {
    schema,
    required: openapi.required,
    types: { ...example.types, ...openapi.types },
    input: openapi.input,
  };
}

/** The field that takes the prompt: the first of PROMPT_FIELDS that holds text. */
export function promptFieldOf(
  schema: Record<string, unknown> | null,
  types: Record<string, string>,
): string | null {
  if (!schema) return 'prompt';
  for (const field of PROMPT_FIELDS) {
    if (!(field in schema)) continue;
    const value = schema[field];
    const textual = value === null || (typeof value === 'string' && !isUrlLike(value));
    if (textual && (types[field] ?? 'string') === 'string') return field;
  }
  return null;
}

/** Whether a schema field takes a file: a known media name, or a demo value that is a URL. */
export function isMediaField(field: string, example: unknown): boolean {
  if (MEDIA_FIELDS.includes(field)) return true;
  return isUrlLike(example) || (Array.isArray(example) && example.length > 0 && example.every(isUrlLike));
}

/** A field that holds a list: its example is an array, or the schema types it `array`. */
export function isListField(
  field: string,
  schema: Record<string, unknown>,
  types: Record<string, string>,
): boolean {
  return Array.isArray(schema[field]) || types[field] === 'array';
}

/** The fields that take files, in schema order: known media names, demo URLs, or `format: uri`. */
export function mediaFieldsOf(caps: Capabilities, promptField: string | null): string[] {
  const schema = caps.schema ?? {};
  const props = caps.input_schema?.properties ?? {};
  return Object.keys(schema).filter(
    (f) => f !== promptField && (isMediaField(f, schema[f]) || takesUri(props[f])),
  );
}
