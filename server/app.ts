import { createRoute, OpenAPIHono, type RouteConfig } from '@hono/zod-openapi';
import { matchedRoutes } from 'hono/route';
import type { ApprovalService } from '../actors/approvals.ts';
import { type Logger, silent } from '../actors/logger.ts';
import type { RunHost } from '../actors/run-host.ts';
import type { App, AppEnv } from './app-env.ts';
import type { Auth } from './auth/auth.ts';
import { authenticate } from './auth/authn.ts';
import { createFailureLimiter, type FailureLimiter, type FailureLimitOptions } from './auth/rate-limit.ts';
import { limitBody } from './body-limit.ts';
import type { HttpLimits, RouteDeps, ServerStores } from './deps.ts';
import { errorResponse, shownInput, toErrorResponse } from './errors.ts';
import { refuseHostileUrl } from './hostile-url.ts';
import { createIdempotency } from './idempotency.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { openApiDocument } from './openapi/document.ts';
import { ANONYMOUS, defaultHook, responses } from './openapi/route.ts';
import { approvalRoutes } from './routes/approvals.ts';
import { consoleRoutes } from './routes/console.ts';
import { docsRoutes } from './routes/docs.ts';
import { miscRoutes } from './routes/misc.ts';
import { runControlRoutes } from './routes/run-control.ts';
import { runEventRoutes } from './routes/run-events.ts';
import { runCreateRoutes } from './routes/runs-create.ts';
import { runReadRoutes } from './routes/runs-read.ts';
import { webhookRoutes } from './routes/webhooks.ts';
import { OpenApiDocument } from './schemas.ts';
import { secureHeaders } from './secure-headers.ts';
import { createWaiters, DEFAULT_MAX_WAITERS, type Waiters, waiterGauge } from './waiters.ts';
import { createFrameHandler } from './ws/frames.ts';

/** What the HTTP app is built from; everything but the runtime has a default. */
export interface AppOptions {
  host: RunHost;
  /** Narrow store interfaces (idempotency, webhook ids), given by `server/main.ts`. */
  stores: ServerStores;
  approvals: ApprovalService;
  auth: Auth;
  log?: Logger;
  /** `HITL_PUBLIC_URL` (links in responses). */
  publicUrl?: string | undefined;
  /** `REPLICATE_WEBHOOK_SECRET`. */
  webhookSecret?: string | undefined;
  /** Made here when absent (then `wsCount` feeds its WebSocket gauge). */
  metrics?: Metrics;
  wsCount?: () => number;
  limits?: Partial<HttpLimits>;
  failedAuth?: FailureLimitOptions;
  /** One failed-auth limiter shared with the WebSocket upgrade (made from `failedAuth` when absent). */
  limiter?: FailureLimiter;
  /** Aborted when shutdown begins: new requests get 503 (kept-alive connections included). */
  draining?: AbortSignal;
  /** Aborted once in-flight work had its grace: long-polls answer with the current state, streams end. */
  shutdown?: AbortSignal;
  now?: () => number;
  /** The node's long-poll slots (made from `limits.maxWaiters` when absent). */
  waiters?: Waiters;
  /** Shown in /openapi.json. */
  version?: string;
}

/** The Hono app of SPEC §3: routes declared with `createRoute`, one auth middleware, one error boundary. */
export function createApp(opts: AppOptions): App {
  const app = new OpenAPIHono<AppEnv>({ defaultHook });
  const log = opts.log ?? silent;
  const limits: HttpLimits = {
    longPollMaxMs: 55_000,
    heartbeatMs: 15_000,
    teamsTimeoutMs: 300_000,
    maxBodyBytes: 1024 * 1024,
    webhookToleranceMs: 300_000,
    maxWaiters: DEFAULT_MAX_WAITERS,
    ...opts.limits,
  };
  const waiters = opts.waiters ?? createWaiters({ max: limits.maxWaiters });
  const metrics =
    opts.metrics ?? createMetrics({ host: opts.host, ...(opts.wsCount ? { wsCount: opts.wsCount } : {}) });
  const deps: RouteDeps = {
    host: opts.host,
    stores: opts.stores,
    approvals: opts.approvals,
    log,
    frames: createFrameHandler({ host: opts.host, approvals: opts.approvals, log }),
    metrics,
    limiter: opts.limiter ?? createFailureLimiter(opts.failedAuth),
    limits,
    publicUrl: opts.publicUrl,
    webhookSecret: opts.webhookSecret,
    shutdown: opts.shutdown ?? new AbortController().signal,
    now: opts.now ?? Date.now,
    waiters,
  };
  waiterGauge(metrics.registry, waiters);
  const anonymous = new Set<string>();

  app.use(secureHeaders());
  app.use(async (c, next) => {
    // Stop accepting: a load balancer sees /readyz fail and retries elsewhere.
    if (opts.draining?.aborted && c.req.path !== '/healthz') {
      c.header('Connection', 'close');
      return errorResponse(c, 'unavailable', 'The server is shutting down');
    }
    return next();
  });
  app.use(async (c, next) => {
    const started = performance.now();
    await next();
    const route = [...matchedRoutes(c)].reverse().find((r) => r.method !== 'ALL')?.path ?? 'unmatched';
    metrics.observeHttp(c.req.method, route, c.res.status, (performance.now() - started) / 1000);
  });
  // SPEC §3 precedence: 401 before 413 before anything a route checks.
  app.use(authenticate({ auth: opts.auth, limiter: deps.limiter, anonymous: (path) => anonymous.has(path) }));
  app.use(
    limitBody({
      maxBytes: limits.maxBodyBytes,
      onTooLarge: (c) =>
        errorResponse(c, 'payload_too_large', `The request body is over ${limits.maxBodyBytes} bytes`),
    }),
  );
  app.use(refuseHostileUrl());

  const idempotency = createIdempotency(opts.stores.idempotency);
  runCreateRoutes(app, deps, idempotency);
  runReadRoutes(app, deps);
  runEventRoutes(app, deps);
  runControlRoutes(app, deps, idempotency);
  approvalRoutes(app, deps, idempotency);
  webhookRoutes(app, deps);
  miscRoutes(app, deps);
  consoleRoutes(app);
  docsRoutes(app);
  let document: Record<string, unknown> | null = null;
  app.openapi(
    createRoute({
      method: 'get',
      path: '/openapi.json',
      tags: ['operations'],
      summary: 'This OpenAPI document (public: it holds no secret)',
      security: ANONYMOUS,
      responses: responses({ 200: OpenApiDocument }),
    }),
    (c) => {
      document ??= openApiDocument(declaredRoutes(app), opts.version ?? '0.1.0');
      return c.json(document);
    },
  );
  for (const route of declaredRoutes(app)) {
    if (route.security?.length === 0) anonymous.add(route.path);
  }

  app.notFound((c) =>
    errorResponse(c, 'not_found', `No route for ${c.req.method} ${shownInput(c.req.path)}`),
  );
  app.onError((err, c) => toErrorResponse(c, err, log));
  return app;
}

/** The routes declared on the app, in order (the registry also holds components: skipped). */
function declaredRoutes(app: App): RouteConfig[] {
  return app.openAPIRegistry.definitions.flatMap((d) => (d.type === 'route' ? [d.route] : []));
}
