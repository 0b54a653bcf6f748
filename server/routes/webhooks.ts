import { createRoute } from '@hono/zod-openapi';
import { HitlError } from '../../actors/errors.ts';
import { toPredictionState } from '../../actors/providers/replicate-prediction.ts';
import type { PredictionState } from '../../actors/providers/types.ts';
import { isUuid } from '../../machines/ids.ts';
import type { App } from '../app-env.ts';
import { assertNotBlocked, clientAddress } from '../auth/authn.ts';
import { verifyWebhook } from '../auth/webhook-verify.ts';
import type { RouteDeps } from '../deps.ts';
import { shownInput } from '../errors.ts';
import { ANONYMOUS, documentedBody, errors, parseJson, responses } from '../openapi/route.ts';
import { AnyJson, WebhookQuery, WebhookResponse } from '../schemas.ts';

/**
 * `POST /webhooks/replicate?run_id=…`: the run host gives Replicate this URL per run. Checked on
 * the raw body before anything is read or stored; a refused one changes nothing (SPEC §5).
 */
export function webhookRoutes(app: App, deps: RouteDeps): void {
  const { host } = deps;
  app.openapi(
    createRoute({
      method: 'post',
      path: '/webhooks/replicate',
      tags: ['providers'],
      summary: 'Replicate prediction webhooks (Standard Webhooks signature, 5 min tolerance, ids seen once)',
      // Not the bearer token: the signature is checked on the raw body, read by the handler.
      security: ANONYMOUS,
      request: { query: WebhookQuery, body: documentedBody(AnyJson) },
      responses: responses({ 200: WebhookResponse, ...errors(400, 401, 404, 429) }),
    }),
    async (c) => {
      const query = c.req.valid('query');
      assertNotBlocked(c, deps.limiter);
      const raw = await c.req.text();
      const headers = {
        id: c.req.header('webhook-id'),
        timestamp: c.req.header('webhook-timestamp'),
        signature: c.req.header('webhook-signature'),
      };
      const verdict = deps.webhookSecret
        ? verifyWebhook(deps.webhookSecret, headers, raw, deps.now(), deps.limits.webhookToleranceMs)
        : { ok: false as const, reason: 'webhooks are not configured' };
      if (!verdict.ok) {
        deps.limiter.fail(clientAddress(c, deps.limiter));
        deps.log.warn({ reason: verdict.reason }, 'webhook refused');
        throw new HitlError('unauthorized', `Webhook refused: ${verdict.reason}`);
      }
      const runId = query.run_id ?? '';
      if (!isUuid(runId) || !(await host.read(runId)))
        throw new HitlError('run_not_found', `Run ${shownInput(runId)} not found`);
      const notPrediction = () => new HitlError('invalid_request', 'The webhook body is not a prediction');
      // SPEC §7: refused like any body (422); a prediction whose output holds NUL or lone
      // surrogates is then stored escaped from the next poll, so the run still completes.
      const body = parseJson(raw, notPrediction);
      let state: PredictionState;
      try {
        state = toPredictionState(body);
      } catch {
        throw notPrediction();
      }
      // Remembered only once it is known to be genuine, so forgeries cannot burn ids.
      if (!(await deps.stores.webhooks.remember(headers.id ?? '')))
        return c.json({ received: true, duplicate: true });
      await host.onPredictionState(runId, state);
      return c.json({ received: true, duplicate: false });
    },
  );
}
