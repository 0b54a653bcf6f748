import { createRoute } from '@hono/zod-openapi';
import type { LoadedRun } from '../../actors/run-core.ts';
import type { DecisionRequest } from '../../actors/run-decide.ts';
import type { RunHost } from '../../actors/run-host.ts';
import type { App } from '../app-env.ts';
import { assertMayDecide, existingRun, runCheckpoint } from '../auth/access.ts';
import { decisionActor, requireService } from '../auth/authn.ts';
import type { RouteDeps } from '../deps.ts';
import type { Idempotency } from '../idempotency.ts';
import { errors, jsonBody, responses } from '../openapi/route.ts';
import { ApproveBody, ControlResponse, DecisionResponse, ReasonBody, type RespondBody } from '../schemas.ts';

const CONTROL_ERRORS = errors(401, 403, 404, 409, 422);

/** The fields of a decision body that become the runtime's DecisionRequest. */
export function decisionFields(
  b: Pick<RespondBody, 'action' | 'approved' | 'edits' | 'reason' | 'timestamp'>,
): Omit<DecisionRequest, 'approval_id' | 'on_behalf_of'> {
  return {
    // The schema guarantees one of them; `approved` stands for approve / reject (SPEC §3).
    action: b.action ?? (b.approved ? 'approve' : 'reject'),
    ...(b.edits ? { edits: b.edits } : {}),
    ...(typeof b.reason === 'string' ? { reason: b.reason } : {}),
    ...(typeof b.timestamp === 'string' ? { client_timestamp: b.timestamp } : {}),
  };
}

/** The answer to a control or a decision: where the run is now. */
export function runState(host: RunHost, run: LoadedRun) {
  const view = host.view(run);
  return {
    success: true as const,
    run_id: view.run_id,
    status: view.status,
    current_step: view.current_step,
  };
}

const approveBody = jsonBody(ApproveBody);
const reasonBody = jsonBody(ReasonBody, true);

const CONTROLS = [
  { op: 'pause', method: 'post', path: '/hitl/run/{id}/pause', summary: 'Pause a queued or running run' },
  { op: 'resume', method: 'post', path: '/hitl/run/{id}/resume', summary: 'Resume a paused run' },
  { op: 'cancel', method: 'delete', path: '/hitl/run/{id}', summary: 'Cancel a run (and its open approval)' },
] as const;

/** Decisions on a run's checkpoint, and pause / resume / cancel (SPEC §2.5). */
export function runControlRoutes(app: App, deps: RouteDeps, idempotency: Idempotency): void {
  const { host } = deps;

  app.openapi(
    createRoute({
      method: 'post',
      path: '/hitl/run/{id}/approve',
      tags: ['decisions'],
      summary: "Decide the run's open approval: approve, edit, reject or retry (Idempotency-Key supported)",
      middleware: [approveBody.middleware] as const,
      request: { body: approveBody.doc },
      responses: responses({ 200: DecisionResponse, ...CONTROL_ERRORS }),
    }),
    async (c) => {
      const received = deps.now();
      const body = approveBody.of(c);
      const p = c.get('principal');
      const runId = c.req.param('id');
      const approvalId = body.approval_id ?? body.approval_token ?? '';
      const approval = await runCheckpoint(host, runId, approvalId);
      assertMayDecide(p, approval);
      const who = decisionActor(p, body.approved_by);
      const fields = decisionFields(body);
      // SPEC §7: a decision may be retried with its Idempotency-Key (the original answer comes back).
      return idempotency.run(c, p, async () => {
        const run = await host
          .decide(
            runId,
            {
              ...fields,
              approval_id: approvalId,
              ...(who.on_behalf_of ? { on_behalf_of: who.on_behalf_of } : {}),
            },
            who.actor,
          )
          .catch((err: unknown) => deps.approvals.explainRefusal(approvalId, err));
        deps.metrics.observeDecision((deps.now() - received) / 1000);
        return {
          status: 200,
          body: { ...runState(host, run), approval_id: approvalId, action: fields.action },
        };
      });
    },
  );

  for (const ctl of CONTROLS) {
    app.openapi(
      createRoute({
        method: ctl.method,
        path: ctl.path,
        tags: ['runs'],
        summary: ctl.summary,
        middleware: [reasonBody.middleware] as const,
        request: { body: reasonBody.doc },
        responses: responses({ 200: ControlResponse, ...CONTROL_ERRORS }),
      }),
      async (c) => {
        const p = c.get('principal');
        const runId = c.req.param('id');
        await existingRun(host, runId);
        requireService(p, `${ctl.op} runs`);
        const run = await host.control(runId, ctl.op, p.actor, reasonBody.of(c).reason ?? undefined);
        return c.json(runState(host, run));
      },
    );
  }
}
