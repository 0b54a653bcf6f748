import { HitlError } from '../../actors/errors.ts';
import { type Api, readJson } from '../api.ts';
import type { RouteDeps } from '../deps.ts';
import { errorBody } from '../errors.ts';
import { ErrorResponse, FrameBody, FrameReply, HealthResponse, ProvidersResponse } from '../schemas.ts';

/** Providers, WebSocket frames over HTTP, health, readiness and metrics. */
export function miscRoutes(api: Api, deps: RouteDeps): void {
  const { host } = deps;

  api.add(
    {
      method: 'get',
      path: '/hitl/providers',
      tag: 'providers',
      summary: 'Providers, their tool keys and whether they are configured',
      responses: { 200: ProvidersResponse, 401: ErrorResponse },
    },
    (c) => {
      const providers = host.providers();
      return c.json({ providers, total: providers.length });
    },
  );

  api.add(
    {
      method: 'post',
      path: '/hitl/websocket/message',
      tag: 'websocket',
      summary: 'A WebSocket client frame over HTTP (for relays) → its reply frame',
      docBody: FrameBody,
      responses: { 200: FrameReply, 400: ErrorResponse, 401: ErrorResponse },
    },
    async (c) => {
      const frame = await readJson(c);
      return c.json(await deps.frames.handle(frame, c.get('principal')));
    },
  );

  api.add(
    {
      method: 'get',
      path: '/healthz',
      tag: 'operations',
      summary: 'Liveness',
      auth: 'none',
      responses: { 200: HealthResponse },
    },
    (c) => c.json({ status: 'ok' }),
  );

  api.add(
    {
      method: 'get',
      path: '/readyz',
      tag: 'operations',
      summary: 'Readiness: Postgres reachable (503 otherwise); cache and fan-out health reported',
      auth: 'none',
      responses: { 200: HealthResponse, 503: ErrorResponse },
    },
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

  api.add(
    {
      method: 'get',
      path: '/metrics',
      tag: 'operations',
      summary: 'Prometheus metrics (text exposition format)',
      responses: { 200: null, 401: ErrorResponse },
    },
    async (c) => {
      const text = await deps.metrics.registry.metrics().catch((err: unknown) => {
        throw new HitlError('unavailable', err instanceof Error ? err.message : 'metrics unavailable');
      });
      return c.body(text, 200, { 'Content-Type': deps.metrics.registry.contentType });
    },
  );
}
