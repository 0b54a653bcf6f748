import type { Context } from 'hono';
import type { RunHost } from '../../actors/runs.ts';
import { isTerminalStatus } from '../../machines/schemas.ts';
import type { Api, Input } from '../api.ts';
import type { AppEnv } from '../app-env.ts';
import { readableRun } from '../auth/access.ts';
import type { Principal } from '../auth/auth.ts';
import type { RouteDeps } from '../deps.ts';
import {
  ActiveQuery,
  ErrorResponse,
  ListRunsQuery,
  Paged,
  RunStatusResponse,
  RunView,
  SessionActiveResponse,
  VerifyResponse,
  WaitQuery,
} from '../schemas.ts';

type RunFilter = Parameters<RunHost['listRuns']>[0];

const READ_ERRORS = { 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 422: ErrorResponse };
const ACTIVE = ['queued', 'running', 'awaiting_human', 'paused'];

/** Reviewers list only the runs they may read (SPEC §7). */
function scoped(p: Principal, filter: RunFilter): RunFilter {
  return p.kind === 'reviewer' ? { ...filter, readable_by: { sub: p.sub, roles: p.roles } } : filter;
}

/** Reading runs: view (with long-poll), status, verify, lists. */
export function runReadRoutes(api: Api, deps: RouteDeps): void {
  const { host } = deps;

  async function view(c: Context<AppEnv>, { query }: Input<undefined, typeof WaitQuery>): Promise<Response> {
    const id = c.req.param('id') ?? '';
    const run = await readableRun(host, id, c.get('principal'));
    if (!query.wait_for) return c.json(host.view(run));
    const wanted =
      query.wait_for === 'terminal'
        ? isTerminalStatus
        : (s: unknown) => s === 'awaiting_human' || isTerminalStatus(s);
    const maxMs = deps.limits.longPollMaxMs;
    const found = await deps.waiters.wait(c, deps.shutdown, host, {
      relevant: (m) => m.kind === 'run' && m.run_id === id,
      probe: async () => {
        const cur = await host.read(id);
        const v = cur ? host.view(cur) : null;
        return v && wanted(v.status) ? v : undefined;
      },
      timeoutMs: Math.min(query.timeout !== undefined ? query.timeout * 1000 : maxMs, maxMs),
    });
    return c.json(found ?? host.view(await host.mustRead(id)));
  }

  api.add(
    {
      method: 'get',
      path: '/hitl/run/{id}/status',
      tag: 'runs',
      summary: 'Status and progress of a run',
      responses: { 200: RunStatusResponse, ...READ_ERRORS },
    },
    async (c) => c.json(host.status(await readableRun(host, c.req.param('id') ?? '', c.get('principal')))),
  );

  api.add(
    {
      method: 'get',
      path: '/hitl/runs/{id}/verify',
      tag: 'runs',
      summary: "Replay the run's events and compare with its stored snapshot",
      responses: { 200: VerifyResponse, ...READ_ERRORS },
    },
    async (c) => {
      const run = await readableRun(host, c.req.param('id') ?? '', c.get('principal'));
      return c.json(await host.verify(run.snapshot.context.run_id));
    },
  );

  async function list(p: Principal, filter: RunFilter, limit: number, cursor: string | undefined) {
    const page = await host.listRuns(scoped(p, filter), limit, cursor ?? null);
    return { runs: page.items.map((r) => r.view), total: page.total, next_cursor: page.next_cursor };
  }

  api.add(
    {
      method: 'get',
      path: '/hitl/runs',
      tag: 'runs',
      summary: 'List runs, newest first (filters: user_id, session_id, status comma list)',
      query: ListRunsQuery,
      responses: { 200: Paged('runs'), 401: ErrorResponse, 422: ErrorResponse },
    },
    async (c, { query: q }) => {
      const filter: RunFilter = { user_id: q.user_id, session_id: q.session_id, statuses: q.status };
      return c.json(await list(c.get('principal'), filter, q.limit, q.cursor));
    },
  );

  api.add(
    {
      method: 'get',
      path: '/hitl/runs/active',
      tag: 'runs',
      summary: 'Non-terminal runs (of ?user_id=)',
      query: ActiveQuery,
      responses: { 200: Paged('runs'), 401: ErrorResponse, 422: ErrorResponse },
    },
    async (c, { query: q }) => {
      const filter: RunFilter = { user_id: q.user_id, statuses: ACTIVE };
      return c.json(await list(c.get('principal'), filter, q.limit, q.cursor));
    },
  );

  api.add(
    {
      method: 'get',
      path: '/hitl/sessions/{session_id}/active',
      tag: 'runs',
      summary: 'Non-terminal runs of a chat session, and whether approvals are pending in it',
      query: ActiveQuery,
      responses: { 200: SessionActiveResponse, 401: ErrorResponse, 422: ErrorResponse },
    },
    async (c, { query: q }) => {
      const p = c.get('principal');
      const sessionId = c.req.param('session_id') ?? '';
      const body = await list(
        p,
        { session_id: sessionId, user_id: q.user_id, statuses: ACTIVE },
        q.limit,
        q.cursor,
      );
      const reviewer = p.kind === 'reviewer' ? { reviewer: { sub: p.sub, roles: p.roles } } : {};
      const pending = await host.listPendingApprovals({ session_id: sessionId, ...reviewer }, 1, null);
      return c.json({ ...body, session_id: sessionId, has_pending_approvals: pending.total > 0 });
    },
  );

  // Registered last: Hono tries routes in order, and `/hitl/runs/active` must not be taken for an id.
  for (const path of ['/hitl/runs/{id}', '/hitl/runs/{id}/state']) {
    api.add(
      {
        method: 'get',
        path,
        tag: 'runs',
        summary: 'The run view; ?wait_for=awaiting_human|terminal&timeout= long-polls (≤ 55 s)',
        query: WaitQuery,
        responses: { 200: RunView, ...READ_ERRORS },
      },
      view,
    );
  }
}
