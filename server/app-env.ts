import type { HttpBindings } from '@hono/node-server';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Principal } from './auth/auth.ts';

/** Hono environment of the app: the caller, set by the auth middleware. */
export interface AppEnv {
  /** Absent under `app.request` in tests: there is no Node socket then. */
  Bindings: Partial<HttpBindings>;
  Variables: { principal: Principal };
}

/** The app the routes are declared on (`createRoute` + `app.openapi`). */
export type App = OpenAPIHono<AppEnv>;
