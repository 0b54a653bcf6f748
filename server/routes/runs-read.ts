import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { z } from 'zod';
import type { RunHost } from '../../actors/run-host.ts';
import { isTerminalStatus } from '../../machines/schemas.ts';
import type { App, AppEnv } from '../app-env.ts';
import { readableRun } from '../auth/access.ts';
import type { Principal } from '../auth/auth.ts';
import type { RouteDeps } from '../deps.ts';
import { jsonAnswer } from '../json-answer.ts';
import { errors, responses } from '../openapi/route.ts';
import {
  ActiveQuery,
  ListRunsQuery,
  Paged,
  RunStatusResponse,
  RunView,
  SessionActiveResponse,
  VerifyResponse,
  WaitQuery,
} from '../schemas.ts';

type RunFilter = Parameters<RunHost['listRuns']>[0];

const READ_ERRORS = errors(401, 403, 404, 422);
const ACTIVE = ['queued', 'running', 'awaiting_human', 'paused'];

/** Reviewers list only the runs they may read (SPEC §7). */
function scoped(p: Principal, filter: RunFilter): RunFilter {
  return p.kind === 'reviewer' ? { ...filter, readable_by: { sub: p.sub, roles: p.roles } } : filter;
}

/** A page of runs as the list routes answer it. */
async function page(
  host: RunHost,
  p: Principal,
  filter: RunFilter,
  q: { limit: number; cursor?: string | undefined },
) {
  const found = await host.listRuns(scoped(p, filter), q.limit, q.cursor ?? null);
  return { runs: found.items.map((r) => r.view), total: found.total, next_cursor: found.next_cursor };
}

const viewRoute = (path: '/hitl/runs/{id}' | '/hitl/runs/{id}/state') =>
  createRoute({
    method: 'get',
    path,
    tags: ['runs'],
    summary: 'The run view; ?wait_for=awaiting_human|terminal&timeout= long-polls (≤ 55 s)',
    request: { query: WaitQuery },
    responses: responses({ 200: RunView, ...READ_ERRORS }),
  });

const listRoute = <P extends string, Q extends z.ZodObject>(
  path: P,
  summary: string,
  query: Q,
  answer: z.ZodType,
) =>
  createRoute({
    method: 'get',
    path,
    tags: ['runs'],
    summary,
    request: { query },
    responses: responses({ 200: answer, ...errors(401, 422) }),
  });

/** Reading runs: view (with long-poll), status, verify, lists. */
export function runReadRoutes(app: App, deps: RouteDeps): void {
  const { host } = deps;

  async function view(c: Context<AppEnv>, id: string, query: WaitQuery): Promise<Response> {
    const run = await readableRun(host, id, c.get('principal'));
    if (!query.wait_for) return jsonAnswer(c, host.view(run));
    const wanted =
      query.wait_for === 'terminal'
        ? isTerminalStatus
        : (s: string) => s === 'awaiting_human' || isTerminalStatus(s);
    // Already there: this read is as fresh as the wait's first probe would be.
    const now = host.view(run);
    if (wanted(now.status)) return jsonAnswer(c, now);
    const maxMs = deps.limits.longPollMaxMs;
    let floor = run.seq;
    const found = await deps.waiters.wait(c, deps.shutdown, host, {
      relevant: (m) => m.kind === 'run' && m.run_id === id,
      probe: async (woke) => {
        // Woken by a commit: a local copy at that commit (and not behind what was read) serves
        // without asking Postgres for the run's seq again.
        const cur =
          woke?.kind === 'run' ? await host.readAtLeast(id, Math.max(floor, woke.seq)) : await host.read(id);
        if (cur) floor = Math.max(floor, cur.seq);
        const v = cur ? host.view(cur) : null;
        return v && wanted(v.status) ? v : undefined;
      },
      timeoutMs: Math.min(query.timeout !== undefined ? query.timeout * 1000 : maxMs, maxMs),
    });
    return jsonAnswer(c, found ?? host.view(await host.mustRead(id)));
  }

  app.openapi(
    createRoute({
      method: 'get',
      path: '/hitl/run/{id}/status',
      tags: ['runs'],
      summary: 'Status and progress of a run',
      responses: responses({ 200: RunStatusResponse, ...READ_ERRORS }),
    }),
    async (c) => c.json(host.status(await readableRun(host, c.req.param('id'), c.get('principal')))),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/hitl/runs/{id}/verify',
      tags: ['runs'],
      summary: "Replay the run's events and compare with its stored snapshot",
      responses: responses({ 200: VerifyResponse, ...READ_ERRORS }),
    }),
    async (c) => {
      const run = await readableRun(host, c.req.param('id'), c.get('principal'));
      return c.json(await host.verify(run.snapshot.context.run_id));
    },
  );

  app.openapi(
    listRoute(
      '/hitl/runs',
      'List runs, newest first (filters: user_id, session_id, status comma list)',
      ListRunsQuery,
      Paged('runs'),
    ),
    async (c) => {
      const q = c.req.valid('query');
      const filter: RunFilter = { user_id: q.user_id, session_id: q.session_id, statuses: q.status };
      return c.json(await page(host, c.get('principal'), filter, q));
    },
  );

  app.openapi(
    listRoute('/hitl/runs/active', 'Non-terminal runs (of ?user_id=)', ActiveQuery, Paged('runs')),
    async (c) => {
      const q = c.req.valid('query');
      return c.json(await page(host, c.get('principal'), { user_id: q.user_id, statuses: ACTIVE }, q));
    },
  );

  app.openapi(
    listRoute(
      '/hitl/sessions/{session_id}/active',
      'Non-terminal runs of a chat session, and whether approvals are pending in it',
      ActiveQuery,
      SessionActiveResponse,
    ),
    async (c) => {
      const p = c.get('principal');
      const q = c.req.valid('query');
      const sessionId = c.req.param('session_id');
      const filter: RunFilter = { session_id: sessionId, user_id: q.user_id, statuses: ACTIVE };
      const body = await page(host, p, filter, q);
      const reviewer = p.kind === 'reviewer' ? { reviewer: { sub: p.sub, roles: p.roles } } : {};
      const pending = await host.listPendingApprovals({ session_id: sessionId, ...reviewer }, 1, null);
      return c.json({ ...body, session_id: sessionId, has_pending_approvals: pending.total > 0 });
    },
  );

  // Registered last: Hono tries routes in order, and `/hitl/runs/active` must not be taken for an id.
  app.openapi(viewRoute('/hitl/runs/{id}'), (c) => view(c, c.req.param('id'), c.req.valid('query')));
  app.openapi(viewRoute('/hitl/runs/{id}/state'), (c) => view(c, c.req.param('id'), c.req.valid('query')));
}
