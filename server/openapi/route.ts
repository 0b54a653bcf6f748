/**
 * server/openapi/: the routes' declarations (`createRoute` of `@hono/zod-openapi`) and the OpenAPI
 * document drawn from them. Queries go through the library's validator (`defaultHook`: 422); JSON
 * bodies go through `jsonBody` below, because the contract reads them whatever the Content-Type,
 * answers 400 for broken JSON before any 422, and refuses hostile JSON before zod recurses (SPEC §3,
 * §7) — the library's own body validator answers 415 without `Content-Type: application/json`.
 */
import type { Hook, RouteConfig } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { z } from 'zod';
import { HitlError } from '../../actors/errors.ts';
import type { AppEnv } from '../app-env.ts';
import { invalidRequest } from '../errors.ts';
import { assertAcceptableJson } from '../hostile-json.ts';
import { ErrorResponse } from '../schemas.ts';

/** Parse the body as JSON: broken JSON is `400 invalid_json` (before any schema check, SPEC §3). */
export async function readJson(c: Context, optional = false): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') {
    if (optional) return {};
    throw new HitlError('invalid_json', 'The request body is empty; JSON expected');
  }
  return parseJson(text, () => new HitlError('invalid_json', 'The request body is not valid JSON'));
}

/**
 * JSON text as a value, `broken()` thrown when it is not JSON. Then, before any schema (zod
 * recurses): too deep, NUL or lone surrogate → 422 naming the path (SPEC §7).
 */
export function parseJson(text: string, broken: () => HitlError): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // Made only when thrown: an error captures its stack, and this ran on every request.
    throw broken();
  }
  assertAcceptableJson(value);
  return value;
}

/** Validate with a schema; failures are `422 invalid_request` naming the fields. */
export function check<S extends z.ZodType>(schema: S, value: unknown, where = ''): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw invalidRequest(parsed.error, where);
  return parsed.data;
}

/** The library's validators (queries) fail as `422 invalid_request`, like every other check. */
export const defaultHook: Hook<unknown, AppEnv, string, undefined> = (result) => {
  if (!result.success) throw invalidRequest(result.error, result.target === 'json' ? '' : result.target);
};

type JsonSchema = Record<string, unknown>;

/** A request body as callers send it (before defaults and coercion), for the document. */
export function documentedBody(schema: z.ZodType, required = true) {
  const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' });
  const { $schema: _, ...rest } = json as JsonSchema;
  return { required, content: { 'application/json': { schema: rest } } };
}

/**
 * A JSON body checked by `schema` (route middleware: it runs before the query's validator, so a
 * broken body's 400 wins), read back with `of(c)`, and its documentation for `request.body`.
 * `optional`: an absent body is `{}` (pause, resume, cancel).
 */
export function jsonBody<S extends z.ZodType>(schema: S, optional = false) {
  const bodies = new WeakMap<Context, { value: z.output<S> }>();
  return {
    middleware: createMiddleware<AppEnv>(async (c, next) => {
      bodies.set(c, { value: check(schema, await readJson(c, optional)) });
      await next();
    }),
    doc: documentedBody(schema, !optional),
    /** The checked body of this request. */
    of(c: Context): z.output<S> {
      const entry = bodies.get(c);
      if (!entry) throw new Error('jsonBody: the route does not list this body in its middleware');
      return entry.value;
    },
  };
}

/** Anonymous routes (`security: []`): no bearer token asked (health, docs, console, webhooks). */
export const ANONYMOUS: RouteConfig['security'] = [];

/** Status → response schema; `null` is a text body (HTML, metrics), `sse` adds the event stream. */
export function responses(
  map: Record<number, z.ZodType | null>,
  opts: { sse?: boolean } = {},
): RouteConfig['responses'] {
  const out: RouteConfig['responses'] = {};
  for (const [status, schema] of Object.entries(map)) {
    const content: Record<string, { schema: z.ZodType | JsonSchema }> = {};
    if (schema) content['application/json'] = { schema };
    else content['text/plain'] = { schema: { type: 'string' } };
    if (opts.sse && status === '200') content['text/event-stream'] = { schema: { type: 'string' } };
    out[status] = { description: REASONS[Number(status)] ?? 'Response', content };
  }
  return out;
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

/** The 401 every bearer route may answer. */
export const UNAUTHORIZED = { description: REASONS[401] ?? 'Unauthorized' };

/** `{ 401: ErrorResponse, 404: ErrorResponse, … }`: the error answers a route documents. */
export function errors(...statuses: number[]): Record<number, z.ZodType> {
  return Object.fromEntries(statuses.map((s) => [s, ErrorResponse]));
}
