import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { type SSEStreamingApi, streamSSE } from 'hono/streaming';
import { HitlError } from '../../actors/errors.ts';
import type { RunHost } from '../../actors/run-host.ts';
import { isTerminalStatus } from '../../machines/schemas.ts';
import type { App, AppEnv } from '../app-env.ts';
import { readableRun } from '../auth/access.ts';
import type { RouteDeps } from '../deps.ts';
import { jsonAnswer } from '../json-answer.ts';
import { errors, responses } from '../openapi/route.ts';
import { EventsQuery, EventsResponse } from '../schemas.ts';

type Row = Awaited<ReturnType<RunHost['listEvents']>>[number];

const PAGE = 500;

/** An event row as the API shows it (SPEC §2.6). */
export function publicRow(r: Row) {
  return {
    run_id: r.run_id,
    seq: r.seq,
    type: r.type,
    step: r.step,
    status: r.status,
    actor: r.actor,
    message: r.message,
    payload: r.payload,
    created_at: r.created_at,
  };
}

/** `GET /hitl/runs/{id}/events`: a page of JSON, or an SSE stream (catch-up, then live). */
export function runEventRoutes(app: App, deps: RouteDeps): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/hitl/runs/{id}/events',
      tags: ['runs'],
      summary: "The run's event log; with Accept: text/event-stream an SSE stream after Last-Event-ID",
      request: { query: EventsQuery },
      responses: responses({ 200: EventsResponse, ...errors(401, 403, 404, 422) }, { sse: true }),
    }),
    async (c) => {
      const query = c.req.valid('query');
      const run = await readableRun(deps.host, c.req.param('id'), c.get('principal'));
      const runId = run.snapshot.context.run_id;
      if ((c.req.header('accept') ?? '').includes('text/event-stream')) {
        return stream(
          c,
          deps,
          runId,
          startAfter(c.req.header('last-event-id'), query.after_seq ?? query.cursor),
        );
      }
      const after = query.after_seq ?? query.cursor ?? 0;
      const rows = await deps.host.listEvents(runId, after, query.limit);
      const last = rows[rows.length - 1];
      return jsonAnswer(c, {
        events: rows.map(publicRow),
        next_cursor: rows.length === query.limit && last ? String(last.seq) : null,
      });
    },
  );
}

function startAfter(lastEventId: string | undefined, after: number | undefined): number {
  if (lastEventId === undefined || lastEventId.trim() === '') return after ?? 0;
  if (!/^\d{1,15}$/.test(lastEventId.trim())) {
    throw new HitlError('invalid_request', 'Last-Event-ID must be an event seq', {
      fields: ['Last-Event-ID'],
    });
  }
  return Number(lastEventId.trim());
}

/**
 * The SSE stream. One serial queue writes every row once, in seq order: a live message whose rows
 * continue exactly where the stream is goes out as is; anything else (a gap, a lost cross-node
 * message) is filled from Postgres. Subscribing before the catch-up means nothing falls between.
 * The stream ends after the run's terminal events.
 */
function stream(c: Context<AppEnv>, deps: RouteDeps, runId: string, after: number): Response {
  const { host, log } = deps;
  return streamSSE(c, async (sse: SSEStreamingApi) => {
    let last = after;
    let finished = false;
    let chain: Promise<void> = Promise.resolve();
    let end: () => void = () => {};
    const ended = new Promise<void>((resolve) => {
      end = resolve;
    });
    const stop = () => {
      finished = true;
      end();
    };

    let terminalSeen = false;
    const write = async (r: Row) => {
      await sse.writeSSE({ id: String(r.seq), event: r.type, data: JSON.stringify(publicRow(r)) });
      last = r.seq;
      if (isTerminalStatus(r.status)) terminalSeen = true;
    };
    const fromStore = async () => {
      for (;;) {
        const rows = await host.listEvents(runId, last, PAGE);
        for (const r of rows) await write(r);
        if (rows.length < PAGE) return;
      }
    };
    const schedule = (step: () => Promise<void>) => {
      chain = chain
        .then(async () => {
          if (finished || sse.aborted) return;
          await step();
          // Derived rows follow their input row in the same commit: read them all before ending.
          if (terminalSeen) {
            await fromStore();
            stop();
          }
        })
        .catch((err: unknown) => {
          log.warn(
            { run_id: runId, err: err instanceof Error ? err.message : String(err) },
            'event stream failed',
          );
          stop();
        });
    };

    const unsubscribe = host.subscribe((m) => {
      if (m.kind !== 'run' || m.run_id !== runId) return;
      schedule(async () => {
        const fresh = m.events.filter((r) => r.seq > last);
        if (fresh.length === 0) return;
        if (fresh[0]?.seq === last + 1) for (const r of fresh) await write(r);
        else await fromStore();
      });
    });
    // Each heartbeat also reads the log: a lost cross-node message (at-most-once) shows up late, not never.
    const heartbeat = setInterval(
      () =>
        schedule(async () => {
          await sse.write(': heartbeat\n\n');
          await fromStore();
        }),
      deps.limits.heartbeatMs,
    );
    const onShutdown = () => stop();
    deps.shutdown.addEventListener('abort', onShutdown);
    sse.onAbort(stop);
    if (deps.shutdown.aborted) stop();
    schedule(async () => {
      await fromStore();
      // Reconnected after the end: nothing more will come, so the stream ends too.
      const cur = await host.read(runId);
      if (cur && isTerminalStatus(host.view(cur).status)) terminalSeen = true;
    });
    try {
      await ended;
    } finally {
      unsubscribe();
      clearInterval(heartbeat);
      deps.shutdown.removeEventListener('abort', onShutdown);
    }
  });
}
