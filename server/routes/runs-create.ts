import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { LoadedRun } from '../../actors/run-core.ts';
import { effectiveConfig, type HitlConfigInput, isTerminalStatus } from '../../machines/schemas.ts';
import type { App, AppEnv } from '../app-env.ts';
import type { Principal } from '../auth/auth.ts';
import { requireService } from '../auth/authn.ts';
import { baseUrls, type RouteDeps } from '../deps.ts';
import type { Idempotency } from '../idempotency.ts';
import { errors, jsonBody, responses } from '../openapi/route.ts';
import {
  CreateRunBody,
  OwnerQuery,
  RunCreatedResponse,
  TeamsRunBody,
  TeamsRunHitlBody,
  TeamsRunQuery,
  TeamsRunResponse,
} from '../schemas.ts';
import { waitUntil } from '../wait.ts';

const CREATE_ERRORS = errors(400, 401, 403, 409, 422);

interface StartRequest {
  runInput: Record<string, unknown>;
  config: HitlConfigInput | null | undefined;
  /** Endpoint defaults (SPEC §2.1), under the caller's config. */
  base: HitlConfigInput;
  /** In order of precedence; the first non-empty wins (`run_input`'s comes last). */
  userIds: Array<string | null | undefined>;
  sessionIds: Array<string | null | undefined>;
}

const createBody = jsonBody(CreateRunBody);
const teamsHitlBody = jsonBody(TeamsRunHitlBody);
const teamsBody = jsonBody(TeamsRunBody);
type CreateBody = Pick<CreateRunBody, 'run_input' | 'hitl_config'>;

/** `/hitl/run` and `/teams/run-hitl`: a JSON body, the owner query, 201 with the new run. */
function creationRoute(path: string, summary: string, body: typeof createBody | typeof teamsHitlBody) {
  return createRoute({
    method: 'post',
    path,
    tags: ['runs'],
    summary,
    middleware: [body.middleware] as const,
    request: { body: body.doc, query: OwnerQuery },
    responses: responses({ 201: RunCreatedResponse, ...CREATE_ERRORS }),
  });
}

const first = (values: Array<unknown>): string | null =>
  (values.find((v) => typeof v === 'string' && v !== '') as string | undefined) ?? null;

/** Run creation routes: `/hitl/run`, `/teams/run`, `/teams/run-hitl`. */
export function runCreateRoutes(app: App, deps: RouteDeps, idempotency: Idempotency): void {
  const { host } = deps;

  function start(p: Principal, req: StartRequest): Promise<LoadedRun> {
    const userId = first([...req.userIds, req.runInput.user_id]);
    const sessionId = first([...req.sessionIds, req.runInput.session_id]);
    return host.createRun({
      run_input: req.runInput,
      config: effectiveConfig(req.config ?? undefined, userId, req.base),
      user_id: userId,
      session_id: sessionId,
      created_by: p.actor,
    });
  }

  function created(c: Context<AppEnv>, run: LoadedRun): Record<string, unknown> {
    const view = host.view(run);
    const id = String(view.run_id);
    const urls = baseUrls(deps, c.req.url);
    return {
      run_id: id,
      // SPEC §3: the answer describes the creation (`run.created`); the same commit may already
      // hold the steps after it that needed no I/O (SPEC §8 commit model).
      status: 'queued',
      current_step: 'created',
      message: `Run created with policy ${String(view.policy)}`,
      hitl_config: view.hitl_config,
      websocket_url: `${urls.ws}/ws`,
      events_url: `${urls.http}/hitl/runs/${id}/events`,
    };
  }

  /** `/hitl/run` and `/teams/run-hitl`: the same creation, their own defaults and owner fields. */
  function creation(
    c: Context<AppEnv>,
    req: Omit<StartRequest, 'runInput' | 'config'>,
    body: CreateBody,
    answer: (out: Record<string, unknown>) => Record<string, unknown> = (out) => out,
  ) {
    const p = c.get('principal');
    requireService(p, 'create runs');
    return idempotency.run(c, p, async () => {
      const run = await start(p, { ...req, runInput: body.run_input, config: body.hitl_config });
      return { status: 201, body: answer(created(c, run)) };
    });
  }

  app.openapi(creationRoute('/hitl/run', 'Create a run (Idempotency-Key supported)', createBody), (c) => {
    const body = createBody.of(c);
    const query = c.req.valid('query');
    return creation(
      c,
      { base: {}, userIds: [body.user_id, query.user_id], sessionIds: [body.session_id, query.session_id] },
      body,
    );
  });

  app.openapi(
    creationRoute(
      '/teams/run-hitl',
      'Create a run with require_human at payload_review by default (legacy)',
      teamsHitlBody,
    ),
    (c) => {
      const query = c.req.valid('query');
      const base: HitlConfigInput = { policy: 'require_human', allowed_steps: ['payload_review'] };
      const owners = { userIds: [query.user_id], sessionIds: [query.session_id] };
      return creation(c, { base, ...owners }, teamsHitlBody.of(c), (out) => ({
        ...out,
        config: out.hitl_config,
      }));
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/teams/run',
      tags: ['runs'],
      summary:
        'Legacy run: with enable_hitl as /hitl/run; without, waits for the result (200) or a human (202)',
      middleware: [teamsBody.middleware] as const,
      request: { body: teamsBody.doc, query: TeamsRunQuery },
      responses: responses({
        200: TeamsRunResponse,
        201: RunCreatedResponse,
        202: TeamsRunResponse,
        ...CREATE_ERRORS,
      }),
    }),
    async (c) => {
      const query = c.req.valid('query');
      const p = c.get('principal');
      requireService(p, 'create runs');
      const { hitl_config, ...runInput } = teamsBody.of(c);
      const req = { runInput, config: hitl_config, userIds: [query.user_id], sessionIds: [query.session_id] };
      if (query.enable_hitl) {
        return idempotency.run(c, p, async () => {
          const run = await start(p, { ...req, base: { policy: 'auto_with_thresholds' } });
          return { status: 201, body: { ...created(c, run), hitl_enabled: true } };
        });
      }
      // The slot first: a node that cannot wait refuses (503) before anything is created.
      const slot = deps.waiters.enter(c, deps.shutdown);
      try {
        return await legacyRun(c, p, req, query.timeout, slot.signal);
      } finally {
        slot.leave();
      }
    },
  );

  async function legacyRun(
    c: Context<AppEnv>,
    p: Principal,
    req: Omit<StartRequest, 'base'>,
    timeout: number | undefined,
    signal: AbortSignal,
  ): Promise<Response> {
    const run = await start(p, { ...req, base: { policy: 'auto' } });
    const id = run.snapshot.context.run_id;
    const timeoutMs = timeout !== undefined ? timeout * 1000 : deps.limits.teamsTimeoutMs;
    const settled = await waitUntil(host, {
      relevant: (m) => m.kind === 'run' && m.run_id === id,
      probe: async () => {
        const cur = await host.read(id);
        const view = cur ? host.view(cur) : null;
        return view && (view.status === 'awaiting_human' || isTerminalStatus(view.status)) ? view : undefined;
      },
      timeoutMs,
      signal,
    });
    const view = settled ?? host.view(await host.mustRead(id));
    if (isTerminalStatus(view.status)) {
      return c.json({ run_id: id, status: view.status, result: view.final_result, error: view.error }, 200);
    }
    return c.json({ run_id: id, status: view.status, approval: view.approval ?? null }, 202);
  }
}
