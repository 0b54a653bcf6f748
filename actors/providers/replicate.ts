import type Replicate from 'replicate';
import { z } from 'zod';
import type { Capabilities, SchemaSummary } from '../../machines/schemas.ts';
import { createHttpFetch } from './http-fetch.ts';
import { processOutput } from './output.ts';
import { createSchemaChecker } from './replicate-constraints.ts';
import { type FetchLike, type HttpPolicy, withReplicate } from './replicate-http.ts';
import { operationTypeOf } from './replicate-operation.ts';
import { buildReplicatePayload } from './replicate-payload.ts';
import { isFinal, toPredictionState } from './replicate-prediction.ts';
import {
  mergeSchemaInfo,
  parseModelConfig,
  promptFieldOf,
  type SchemaInfo,
  schemaFromExample,
  schemaFromOpenApi,
} from './replicate-schema.ts';
import { schemaSummary } from './replicate-summary.ts';
import { validateReplicatePayload } from './replicate-validate.ts';
import {
  PROVIDER_OPERATIONS,
  type PredictionRef,
  type PredictionState,
  type Provider,
  ProviderError,
  type ProviderRequest,
} from './types.ts';

/** Options of the Replicate provider; `token` empty or absent means not configured. */
export interface ReplicateProviderOptions {
  token?: string | null;
  /** Default `https://api.replicate.com/v1`; tests point it at a local fake. */
  baseUrl?: string;
  fetch?: FetchLike;
  /** Per request; a create without an answer by then has an unknown outcome. Default 10 s. */
  submitTimeoutMs?: number;
  /** Extra attempts of a GET (poll, model lookups) after 429/5xx/network errors. Default 2. */
  pollMaxRetries?: number;
}

const ModelJson = z.looseObject({
  latest_version: z.looseObject({ id: z.string(), openapi_schema: z.unknown().optional() }).nullish(),
});
const VersionJson = z.looseObject({ openapi_schema: z.unknown().optional() });
const PREDICTION_ID = /^[\w-]+$/;
const SCHEMA_CACHE_MAX = 200;
/** A failed lookup is tried again after this long (a missing version may be a network blip). */
const SCHEMA_MISS_TTL_MS = 60_000;

const emptyBuilt = { payload: {}, issues: [], changed_fields: 0, prompt_field: null, attachment_fields: [] };

/** Ids go into URL paths: anything but Replicate's id alphabet is refused before a request. */
function checkId(predictionId: string): void {
  if (!PREDICTION_ID.test(predictionId)) throw new ProviderError('provider_error', 'Malformed prediction id');
}

/** A 2xx on create means a prediction exists: an unreadable answer leaves its outcome unknown. */
function createdState(json: unknown): PredictionState {
  try {
    return toPredictionState(json);
  } catch {
    throw new ProviderError('outcome_unknown', 'Replicate created a prediction but its answer is unreadable');
  }
}

/** The Replicate provider of SPEC §5, on the official `replicate` client. */
export function createReplicateProvider(opts: ReplicateProviderOptions = {}): Provider {
  const token = opts.token ?? '';
  const policy: HttpPolicy = {
    token,
    baseUrl: opts.baseUrl ?? 'https://api.replicate.com/v1',
    fetch: opts.fetch ?? createHttpFetch(),
    timeoutMs: opts.submitTimeoutMs ?? 10_000,
    getRetries: opts.pollMaxRetries ?? 2,
    maxSleepMs: 5_000,
  };
  // One openapi fetch per model version for the provider's lifetime (versions are immutable);
  // the run records the schema in its capabilities, so nothing later needs it again.
  const schemaCache = new Map<string, { info: SchemaInfo; version: string | null }>();
  const misses = new Map<string, number>();
  const checker = createSchemaChecker();

  async function call<T>(op: (client: Replicate) => Promise<T>): Promise<T> {
    if (!token) throw new ProviderError('provider_error', 'REPLICATE_API_TOKEN is not configured');
    return withReplicate(policy, op);
  }

  function split(model: string): [string, string] {
    const [owner = '', name = ''] = model.split('/');
    return [owner, name];
  }

  async function latestVersion(model: string): Promise<{ id: string; openapi: unknown } | null> {
    const latest = ModelJson.safeParse(await call((c) => c.models.get(...split(model)))).data?.latest_version;
    return latest ? { id: latest.id, openapi: latest.openapi_schema ?? null } : null;
  }

  async function knownVersion(model: string, id: string): Promise<{ id: string; openapi: unknown }> {
    const json = await call((c) => c.models.versions.get(...split(model), id));
    return { id, openapi: VersionJson.parse(json).openapi_schema ?? null };
  }

  /**
   * The openapi-derived schema, or null when it cannot be had: capabilities then report no schema,
   * confidence drops and a human looks, rather than the run failing on a lookup.
   */
  async function fetchSchema(model: string, version: string | null) {
    const key = `${model}:${version ?? 'latest'}`;
    const cached = schemaCache.get(key);
    if (cached) return cached;
    if ((misses.get(key) ?? 0) > Date.now()) return null;
    const found = await (version ? knownVersion(model, version) : latestVersion(model)).catch(() => null);
    const info = found ? schemaFromOpenApi(found.openapi) : null;
    if (!found || !info) {
      if (misses.size >= SCHEMA_CACHE_MAX) misses.clear();
      misses.set(key, Date.now() + SCHEMA_MISS_TTL_MS);
      return null;
    }
    const entry = { info, version: found.id };
    if (schemaCache.size >= SCHEMA_CACHE_MAX) schemaCache.delete(schemaCache.keys().next().value ?? '');
    schemaCache.set(key, entry);
    return entry;
  }

  type Fetched = { info: SchemaInfo; version: string | null } | null;

  /** The openapi lookup a config needs (none when the config carries its schema, or no token). */
  function lookupKey(parsed: ReturnType<typeof parseModelConfig>): string | null {
    if (schemaFromOpenApi(parsed.openapi) || !token || !parsed.model) return null;
    return `${parsed.model}:${parsed.version ?? 'latest'}`;
  }

  /** The capabilities without their summary, given the fetched openapi schema (if any). */
  function describeWith(
    parsed: ReturnType<typeof parseModelConfig>,
    fetched: Fetched,
  ): [Capabilities, SchemaSummary['source']] {
    const example = parsed.example ? schemaFromExample(parsed.example) : null;
    const openapi = schemaFromOpenApi(parsed.openapi) ?? fetched?.info ?? null;
    // Pin the version whose schema was reviewed, so the reviewed model is the one that runs.
    const version = parsed.version ?? fetched?.version ?? null;
    const info = mergeSchemaInfo(example, openapi);
    const schema = info?.schema ?? null;
    const types = info?.types ?? {};
    const source =
      example && openapi
        ? 'example_input+openapi_schema'
        : example
          ? 'example_input'
          : openapi
            ? 'openapi_schema'
            : 'none';
    const caps: Capabilities = {
      provider: 'replicate',
      model: parsed.model,
      version,
      schema,
      required: info?.required ?? [],
      types,
      operation_type: operationTypeOf(schema, types, parsed.model, parsed.description),
      estimated_cost: parsed.cost,
      ...(info?.input ? { input_schema: info.input } : {}),
    };
    return [caps, source];
  }

  /**
   * The capabilities without their summary. The version's openapi schema is fetched (once per
   * version) whenever a token is configured, also next to an example_input: it carries the
   * constraints every payload is checked against.
   */
  async function describe(config: Record<string, unknown>): Promise<[Capabilities, SchemaSummary['source']]> {
    const parsed = parseModelConfig(config);
    const fetched =
      lookupKey(parsed) && parsed.model ? await fetchSchema(parsed.model, parsed.version) : null;
    return describeWith(parsed, fetched);
  }

  /** The same without I/O, or null when a lookup is still to be made (issue 7: one commit per input). */
  function describeNow(config: Record<string, unknown>): [Capabilities, SchemaSummary['source']] | null {
    const parsed = parseModelConfig(config);
    const key = lookupKey(parsed);
    if (key === null) return describeWith(parsed, null);
    const cached = schemaCache.get(key);
    if (cached) return describeWith(parsed, cached);
    // A lookup that failed a moment ago is not retried yet: the answer is known without I/O.
    if ((misses.get(key) ?? 0) > Date.now()) return describeWith(parsed, null);
    return null;
  }

  function report(req: ProviderRequest, [described, source]: [Capabilities, SchemaSummary['source']]) {
    // The builder reads the summary's `source` (which defaults are sent); where the prompt and
    // the attachments go is known only once it has built the payload.
    const bare = { ...described, schema_summary: schemaSummary(req, described, emptyBuilt, source) };
    const built = buildReplicatePayload(req, bare, checker);
    const caps = { ...bare, schema_summary: schemaSummary(req, bare, built, source) };
    const signals = {
      model_identified: caps.model !== null,
      schema_present: caps.schema !== null && Object.keys(caps.schema).length > 0,
      prompt_placed: caps.schema !== null && promptFieldOf(caps.schema, caps.types) !== null,
      attachments_placed: !built.issues.some((i) => i.field.startsWith('attachments[')),
    };
    const confidence = Object.values(signals).filter(Boolean).length / 4;
    return { capabilities: caps, confidence, signals };
  }

  return {
    name: 'replicate',
    tools: ['replicate-agent-tool'],
    operations: [...PROVIDER_OPERATIONS],
    configured: () => token.length > 0,

    async capabilities(req) {
      return report(req, await describe(req.model_config));
    },

    capabilitiesNow(req) {
      const described = describeNow(req.model_config);
      return described ? report(req, described) : null;
    },

    buildPayload: (req, caps) => buildReplicatePayload(req, caps, checker),
    validatePayload: (req, caps, payload) => validateReplicatePayload(req, caps, payload, checker),

    async submit(caps, payload, submitOpts) {
      const webhook = submitOpts?.webhook
        ? { webhook: submitOpts.webhook, webhook_events_filter: ['completed' as const] }
        : {};
      let version = caps.version;
      if (!version) {
        if (!caps.model) throw new ProviderError('provider_error', 'Neither a model nor a version is known');
        version = (await latestVersion(caps.model))?.id ?? null;
      }
      const model = caps.model ?? '';
      const created = await call((c) =>
        version
          ? c.predictions.create({ version, input: payload, ...webhook })
          : c.predictions.create({ model, input: payload, ...webhook }),
      );
      const state = createdState(created);
      const createdAt =
        typeof created.created_at === 'string' ? created.created_at : new Date().toISOString();
      const ref: PredictionRef = {
        id: state.id,
        status: state.status,
        created_at: createdAt,
        raw: state.raw,
      };
      return isFinal(state.status) ? { ...ref, final: state } : ref;
    },

    async poll(predictionId) {
      checkId(predictionId);
      return toPredictionState(await call((c) => c.predictions.get(predictionId)));
    },

    async cancel(predictionId) {
      checkId(predictionId);
      return toPredictionState(await call((c) => c.predictions.cancel(predictionId)));
    },

    processOutput,
    estimateCost: (req) => parseModelConfig(req.model_config).cost,
  };
}
