import { z } from 'zod';
import type { RouteSpec } from './api.ts';
import { ErrorResponse } from './schemas.ts';

type JsonSchema = Record<string, unknown>;

/** Schemas of `#/components/schemas`, filled as they are met. */
type Defs = Record<string, JsonSchema>;

/**
 * JSON Schema 2020-12 of a zod schema. Requests are documented as callers send them (`io: 'input'`:
 * before defaults and coercion), responses as they are sent. Schemas with a registered `id` (the
 * run view, status, approval and event row, machines/view-schemas.ts) become components, referenced.
 */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output', defs: Defs): JsonSchema {
  if (schema === ErrorResponse) return { $ref: '#/components/schemas/Error' };
  const out = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema;
  delete out.$schema;
  const nested = (out.$defs ?? {}) as Defs;
  delete out.$defs;
  const local = (s: unknown) =>
    JSON.parse(JSON.stringify(s).replaceAll('"#/$defs/', '"#/components/schemas/')) as JsonSchema;
  for (const [id, def] of Object.entries(nested)) defs[id] ??= local(def);
  return local(out);
}

function queryParameters(query: z.ZodType, defs: Defs): JsonSchema[] {
  const s = jsonSchema(query, 'input', defs);
  const props = (s.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((s.required as string[] | undefined) ?? []);
  return Object.entries(props).map(([name, schema]) => ({
    name,
    in: 'query',
    required: required.has(name),
    schema,
  }));
}

const REASONS: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted: still running or waiting for a human',
  400: 'Bad request (invalid_json, unsupported_provider, provider_not_configured)',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  409: 'Conflict (run_terminal, approval_not_pending, invalid_transition, idempotency_conflict)',
  413: 'Payload too large',
  422: 'Invalid request (invalid_request, invalid_action, invalid_edits)',
  429: 'Rate limited',
  503: 'Unavailable',
};

/** `post /hitl/run/{id}/approve` → `postHitlRunIdApprove`. */
function operationId(spec: RouteSpec): string {
  const words = spec.path
    .replace(/[{}]/g, '')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean);
  return spec.method + words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
}

function operation(spec: RouteSpec, defs: Defs): JsonSchema {
  const pathParams = [...spec.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
    name: m[1],
    in: 'path',
    required: true,
    schema: { type: 'string' },
  }));
  const body = spec.body ?? spec.docBody;
  const responses: Record<string, JsonSchema> = {};
  for (const [status, schema] of Object.entries(spec.responses)) {
    const content: Record<string, JsonSchema> = {};
    if (schema) content['application/json'] = { schema: jsonSchema(schema, 'output', defs) };
    else content['text/plain'] = { schema: { type: 'string' } };
    if (spec.sse && status === '200') content['text/event-stream'] = { schema: { type: 'string' } };
    responses[status] = { description: REASONS[Number(status)] ?? 'Response', content };
  }
  if (spec.auth === undefined) responses['401'] ??= { description: REASONS[401] };
  return {
    operationId: operationId(spec),
    summary: spec.summary,
    tags: [spec.tag],
    parameters: [...pathParams, ...(spec.query ? queryParameters(spec.query, defs) : [])],
    ...(body
      ? {
          requestBody: {
            required: !spec.bodyOptional,
            content: { 'application/json': { schema: jsonSchema(body, 'input', defs) } },
          },
        }
      : {}),
    responses,
    security: spec.auth === undefined ? [{ bearer: [] }] : [],
  };
}

/** The OpenAPI 3.1 document of every route in the table (JSON Schema 2020-12 from the zod schemas). */
export function openApiDocument(specs: RouteSpec[], version: string): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  const defs: Defs = {};
  for (const spec of specs) {
    paths[spec.path] ??= {};
    (paths[spec.path] as Record<string, JsonSchema>)[spec.method] = operation(spec, defs);
  }
  const error = z.toJSONSchema(ErrorResponse, { target: 'draft-2020-12', io: 'input' }) as JsonSchema;
  delete error.$schema;
  const schemas: Record<string, JsonSchema> = { Error: error, ...defs };
  return {
    openapi: '3.1.0',
    info: {
      title: 'hitl-runs',
      version,
      description:
        'Human-in-the-loop review checkpoints for AI model runs. WebSocket protocol: GET /ws (see README).',
    },
    paths,
    components: {
      schemas,
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'A service key (HITL_API_KEYS) or a reviewer JWT (HS256)',
        },
      },
    },
  };
}
