import { createRoute } from '@hono/zod-openapi';
import { HitlError } from '../../actors/errors.ts';
import { type Approval, isTerminalStatus } from '../../machines/schemas.ts';
import type { App } from '../app-env.ts';
import { assertMayDecide, canSeeApproval, existingApproval, existingRun } from '../auth/access.ts';
import { decisionActor, requireService } from '../auth/authn.ts';
import type { RouteDeps } from '../deps.ts';
import type { Idempotency } from '../idempotency.ts';
import { jsonAnswer } from '../json-answer.ts';
import { errors, jsonBody, responses } from '../openapi/route.ts';
import {
  ApprovalResponse,
  ApprovalWaitQuery,
  CancelApprovalResponse,
  DecisionResponse,
  Paged,
  PendingQuery,
  ReasonBody,
  RespondBody,
  StandaloneBody,
} from '../schemas.ts';
import { decisionFields, runState } from './run-control.ts';

const ERRORS = errors(401, 403, 404, 409, 422);
const standaloneBody = jsonBody(StandaloneBody);
const respondBody = jsonBody(RespondBody);
const reasonBody = jsonBody(ReasonBody, true);

const isCheckpoint = (a: Approval) => a.run_id !== null && a.checkpoint_type !== 'browser_action_approval';

/** Approvals by id: pending list, standalone creation, long-poll, respond, cancel (SPEC §3, §6). */
export function approvalRoutes(app: App, deps: RouteDeps, idempotency: Idempotency): void {
  const { host, approvals } = deps;

  app.openapi(
    createRoute({
      method: 'get',
      path: '/hitl/approvals/pending',
      tags: ['approvals'],
      summary: 'Pending approvals the caller may decide (never expired ones)',
      request: { query: PendingQuery },
      responses: responses({ 200: Paged('approvals'), ...errors(401, 422) }),
    }),
    async (c) => {
      const p = c.get('principal');
      const q = c.req.valid('query');
      const reviewer = p.kind === 'reviewer' ? { reviewer: { sub: p.sub, roles: p.roles } } : {};
      const filter = { user_id: q.user_id, session_id: q.session_id, run_id: q.run_id, ...reviewer };
      const page = await host.listPendingApprovals(filter, q.limit, q.cursor ?? null);
      return c.json({
        approvals: page.items.map((r) => r.approval),
        total: page.total,
        next_cursor: page.next_cursor,
      });
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/hitl/approvals',
      tags: ['approvals'],
      summary: 'Create a standalone approval (e.g. a browser action); Idempotency-Key supported',
      middleware: [standaloneBody.middleware] as const,
      request: { body: standaloneBody.doc },
      responses: responses({ 201: ApprovalResponse, ...ERRORS }),
    }),
    async (c) => {
      const p = c.get('principal');
      const body = standaloneBody.of(c);
      if (body.run_id) await existingRun(host, body.run_id);
      requireService(p, 'create approvals');
      return idempotency.run(c, p, async () => {
        const approval = await approvals.create(
          {
            checkpoint_type: body.checkpoint_type,
            action_description: body.action_description,
            context: body.context,
            user_id: body.user_id ?? null,
            session_id: body.session_id ?? null,
            run_id: body.run_id ?? null,
            ...(body.reviewers ? { reviewers: body.reviewers } : {}),
            ...(body.actions ? { actions: body.actions } : {}),
            timeout_seconds: body.timeout_seconds,
          },
          p.actor,
        );
        return { status: 201, body: approval };
      });
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/hitl/approvals/{id}',
      tags: ['approvals'],
      summary: 'An approval; ?wait= seconds (≤ 55) long-polls until it is decided, expired or cancelled',
      request: { query: ApprovalWaitQuery },
      responses: responses({ 200: ApprovalResponse, ...errors(401, 403, 404) }),
    }),
    async (c) => {
      const id = c.req.param('id');
      const query = c.req.valid('query');
      const approval = await existingApproval(approvals, id);
      if (!canSeeApproval(c.get('principal'), approval))
        throw new HitlError('forbidden', 'You may not see this approval');
      if (!query.wait || approval.status !== 'pending') return jsonAnswer(c, approval);
      const done = await deps.waiters.wait(c, deps.shutdown, host, {
        relevant: (m) =>
          m.kind === 'approval' ? m.approval.approval_id === id : m.run_id === approval.run_id,
        probe: async () => {
          const cur = await approvals.get(id);
          return cur && cur.approval.status !== 'pending' ? cur.approval : undefined;
        },
        timeoutMs: Math.min(query.wait * 1000, deps.limits.longPollMaxMs),
      });
      return jsonAnswer(c, done ?? (await existingApproval(approvals, id)));
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/hitl/approvals/{id}/respond',
      tags: ['decisions'],
      summary: 'Decide any approval (run checkpoint or standalone; Idempotency-Key supported)',
      middleware: [respondBody.middleware] as const,
      request: { body: respondBody.doc },
      responses: responses({ 200: DecisionResponse, ...ERRORS }),
    }),
    async (c) => {
      const received = deps.now();
      const p = c.get('principal');
      const id = c.req.param('id');
      const body = respondBody.of(c);
      const approval = await existingApproval(approvals, id);
      assertMayDecide(p, approval);
      const who = decisionActor(p, body.approved_by);
      const fields = decisionFields(body);
      // SPEC §7: a decision may be retried with its Idempotency-Key (the original answer comes back).
      return idempotency.run(c, p, async () => {
        const out = await approvals.respond(
          id,
          { ...fields, ...(who.on_behalf_of ? { on_behalf_of: who.on_behalf_of } : {}) },
          who.actor,
        );
        deps.metrics.observeDecision((deps.now() - received) / 1000);
        const decided = { approval_id: id, action: fields.action };
        const answer =
          out.kind === 'run'
            ? { ...runState(host, out.run), ...decided }
            : {
                success: true,
                run_id: out.approval.run_id,
                ...decided,
                status: out.approval.status,
                current_step: null,
                approval: out.approval,
              };
        return { status: 200, body: answer };
      });
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/hitl/approvals/{id}',
      tags: ['approvals'],
      summary: "Cancel a pending approval (a run checkpoint's: the run is cancelled)",
      middleware: [reasonBody.middleware] as const,
      request: { body: reasonBody.doc },
      responses: responses({ 200: CancelApprovalResponse, ...ERRORS }),
    }),
    async (c) => {
      const p = c.get('principal');
      const id = c.req.param('id');
      const approval = await existingApproval(approvals, id);
      requireService(p, 'cancel approvals');
      if (isCheckpoint(approval) && approval.run_id) {
        // SPEC §3 precedence: a finished run answers run_terminal before approval_not_pending.
        const run = host.view(await host.mustRead(approval.run_id));
        if (isTerminalStatus(run.status)) {
          throw new HitlError('run_terminal', `The run is ${String(run.status)}`);
        }
      }
      const cancelled = await approvals.cancel(id, p.actor, reasonBody.of(c).reason ?? undefined);
      return c.json({
        success: true,
        approval_id: id,
        run_id: cancelled.run_id,
        status: cancelled.status,
        approval: cancelled,
      });
    },
  );
}
