import type { Context, Hono } from 'hono';
import type { z } from 'zod';
import { HitlError } from '../actors/errors.ts';
import type { AppEnv } from './app-env.ts';
import { invalidRequest } from './errors.ts';
import { assertAcceptableJson } from './hostile-json.ts';

/** One route of the table the app is built from and the OpenAPI document is generated from. */
export interface RouteSpec<B extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType> {
  method: 'get' | 'post' | 'delete';
  /** OpenAPI style: `/hitl/run/{id}`. */
  path: string;
  summary: string;
  tag: string;
  body?: B;
  /** The body may be absent (e.g. an optional `reason`). */
  bodyOptional?: boolean;
  query?: Q;
  /** A body the handler reads itself (raw, or checked elsewhere): documented only. */
  docBody?: z.ZodType;
  /** Status → response schema (documentation). */
  responses: Record<number, z.ZodType | null>;
  /** Anonymous (`/healthz`, `/readyz`) or checked otherwise (webhook signatures). */
  auth?: 'none' | 'webhook';
  /** Also answers `text/event-stream`. */
  sse?: boolean;
}

type Infer<T> = T extends z.ZodType ? z.output<T> : undefined;

/** What a handler gets: the validated body and query. */
export interface Input<B, Q> {
  body: Infer<B>;
  query: Infer<Q>;
}

export type Handler<B, Q> = (c: Context<AppEnv>, input: Input<B, Q>) => Promise<Response> | Response;

/** The route table: registers each route on Hono and keeps its spec for /openapi.json. */
export interface Api {
  specs: RouteSpec[];
  add<B extends z.ZodType | undefined = undefined, Q extends z.ZodType | undefined = undefined>(
    spec: Omit<RouteSpec, 'body' | 'query'> & { body?: B; query?: Q },
    handler: Handler<B, Q>,
  ): void;
}

/** Parse the body as JSON: broken JSON is `400 invalid_json` (before any schema check, SPEC §3). */
export async function readJson(c: Context<AppEnv>, optional = false): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') {
    if (optional) return {};
    throw new HitlError('invalid_json', 'The request body is empty; JSON expected');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new HitlError('invalid_json', 'The request body is not valid JSON');
  }
  // Before any schema (zod recurses): too deep, NUL or lone surrogate → 422 naming the path.
  assertAcceptableJson(value);
  return value;
}

/** Validate with a schema; failures are `422 invalid_request` naming the fields. */
export function check<S extends z.ZodType>(schema: S, value: unknown, where = ''): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw invalidRequest(parsed.error, where);
  return parsed.data;
}

/** `{id}` → `:id` for Hono. */
export const honoPath = (path: string): string => path.replace(/\{(\w+)\}/g, ':$1');

/** A route table over a Hono app. */
export function createApi(app: Hono<AppEnv>): Api {
  const specs: RouteSpec[] = [];
  function add<B extends z.ZodType | undefined, Q extends z.ZodType | undefined>(
    spec: Omit<RouteSpec, 'body' | 'query'> & { body?: B; query?: Q },
    handler: Handler<B, Q>,
  ): void {
    specs.push(spec as RouteSpec);
    app.on(spec.method.toUpperCase(), honoPath(spec.path), async (c) => {
      // Body first, then query: both are 422, but a broken body is 400 and must win (SPEC §3).
      const body = spec.body ? check(spec.body, await readJson(c, spec.bodyOptional)) : undefined;
      const query = spec.query ? check(spec.query, c.req.query(), 'query') : undefined;
      return handler(c, { body, query } as Input<B, Q>);
    });
  }
  return { specs, add };
}
