import type { RouteConfig } from '@hono/zod-openapi';
import { z } from 'zod';
import { ErrorResponse } from '../schemas.ts';
import { UNAUTHORIZED } from './route.ts';

type JsonSchema = Record<string, unknown>;

/** Schemas of `#/components/schemas`, filled as they are met. */
type Defs = Record<string, JsonSchema>;

const isZod = (s: unknown): s is z.ZodType => typeof s === 'object' && s !== null && '_zod' in s;

/**
 * JSON Schema 2020-12 of a zod schema, by zod itself (`z.toJSONSchema`: the converter the contract
 * test pins; zod-to-openapi's own differs in form). Requests are documented as callers send them
 * (`io: 'input'`), responses as they are sent. Schemas with a registered `id` (the run view,
 * status, approval and event row, machines/view-schemas.ts) become components, referenced.
 */
function jsonSchema(schema: object, io: 'input' | 'output', defs: Defs): JsonSchema {
  if (schema === ErrorResponse) return { $ref: '#/components/schemas/Error' };
  const out = isZod(schema)
    ? (z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema)
    : Object.fromEntries(Object.entries(schema));
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

/** `post /hitl/run/{id}/approve` → `postHitlRunIdApprove`. */
function operationId(route: RouteConfig): string {
  const words = route.path
    .replace(/[{}]/g, '')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean);
  return route.method + words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
}

/** A `content` map (media type → `{ schema }`), its schemas in JSON Schema. */
function contentOf(content: object | undefined, io: 'input' | 'output', defs: Defs) {
  const out: Record<string, JsonSchema> = {};
  for (const [type, media] of Object.entries(content ?? {})) {
    const schema: unknown = media?.schema;
    if (typeof schema === 'object' && schema !== null) out[type] = { schema: jsonSchema(schema, io, defs) };
  }
  return out;
}

function operation(route: RouteConfig, defs: Defs): JsonSchema {
  const anonymous = route.security !== undefined && route.security.length === 0;
  const pathParams = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
    name: m[1],
    in: 'path',
    required: true,
    schema: { type: 'string' },
  }));
  const query = route.request?.query;
  const body = route.request?.body;
  const responses: Record<string, JsonSchema> = {};
  for (const [status, r] of Object.entries(route.responses)) {
    if (!('$ref' in r)) {
      responses[status] = { description: r.description, content: contentOf(r.content, 'output', defs) };
    }
  }
  if (!anonymous) responses['401'] ??= UNAUTHORIZED;
  return {
    operationId: route.operationId ?? operationId(route),
    summary: route.summary,
    tags: route.tags,
    parameters: [...pathParams, ...(isZod(query) ? queryParameters(query, defs) : [])],
    ...(body && 'content' in body
      ? { requestBody: { required: body.required, content: contentOf(body.content, 'input', defs) } }
      : {}),
    responses,
    security: anonymous ? [] : [{ bearer: [] }],
  };
}

/** The OpenAPI 3.1 document of the declared routes (JSON Schema 2020-12 from the zod schemas). */
export function openApiDocument(routes: RouteConfig[], version: string): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  const defs: Defs = {};
  for (const route of routes) {
    paths[route.path] ??= {};
    (paths[route.path] as Record<string, JsonSchema>)[route.method] = operation(route, defs);
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
