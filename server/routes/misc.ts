import { createRoute } from '@hono/zod-openapi';
import { HitlError } from '../../actors/errors.ts';
import type { App } from '../app-env.ts';
import type { RouteDeps } from '../deps.ts';
import { errorBody } from '../errors.ts';
import { ANONYMOUS, documentedBody, errors, readJson, responses } from '../openapi/route.ts';
import { FrameBody, FrameReply, HealthResponse, ProvidersResponse } from '../schemas.ts';

/** Providers, WebSocket frames over HTTP, health, readiness and metrics. */
export function miscRoutes(app: App, deps: RouteDeps): void {
  const { host } = deps;

  app.openapi(
    createRoute({
      method: 'get',
      path: '/hitl/providers',
      tags: ['providers'],
      summary: 'Providers, their tool keys and whether they are configured',
      responses: responses({ 200: ProvidersResponse, ...errors(401) }),
    }),
    (c) => {
      const providers = host.providers();
      return c.json({ providers, total: providers.length });
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/hitl/websocket/message',
      tags: ['websocket'],
      summary: 'A WebSocket client frame over HTTP (for relays) → its reply frame',
      // Read here, checked by the frame handler (its errors are reply frames, not HTTP errors).
      request: { body: documentedBody(FrameBody) },
      responses: responses({ 200: FrameReply, ...errors(400, 401) }),
    }),
    async (c) => {
      const frame = await readJson(c);
      return c.json(await deps.frames.handle(frame, c.get('principal')));
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/healthz',
      tags: ['operations'],
      summary: 'Liveness',
      security: ANONYMOUS,
      responses: responses({ 200: HealthResponse }),
    }),
    (c) => c.json({ status: 'ok' }),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/readyz',
      tags: ['operations'],
      summary: 'Readiness: Postgres reachable (503 otherwise); cache and fan-out health reported',
      security: ANONYMOUS,
      responses: responses({ 200: HealthResponse, ...errors(503) }),
    }),
    async (c) => {
      const checks = await host.health();
      if (deps.shutdown.aborted)
        return c.json({ ...errorBody('unavailable', 'Shutting down'), ...checks }, 503);
      if (!checks.postgres) {
        return c.json({ ...errorBody('unavailable', 'The database is unavailable'), ...checks }, 503);
      }
      return c.json({ status: 'ready', ...checks });
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/metrics',
      tags: ['operations'],
      summary: 'Prometheus metrics (text exposition format)',
      responses: responses({ 200: null, ...errors(401) }),
    }),
    async (c) => {
      const text = await deps.metrics.registry.metrics().catch((err: unknown) => {
        throw new HitlError('unavailable', err instanceof Error ? err.message : 'metrics unavailable');
      });
      return c.body(text, 200, { 'Content-Type': deps.metrics.registry.contentType });
    },
  );
}
