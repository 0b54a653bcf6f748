import type { ApprovalService } from '../actors/approvals.ts';
import type { Logger } from '../actors/logger.ts';
import type { RunHost } from '../actors/run-host.ts';
import type { Auth } from './auth/auth.ts';
import type { FailureLimiter } from './auth/rate-limit.ts';
import type { Metrics } from './metrics.ts';
import type { Waiters } from './waiters.ts';
import type { FrameHandler } from './ws/frames.ts';

/** Tunables of the HTTP layer; defaults are SPEC values, tests make them short. */
export interface HttpLimits {
  /** Cap of `?timeout=` / `?wait=` long-polls (default 55 s). */
  longPollMaxMs: number;
  /** SSE heartbeat period (default 15 s). */
  heartbeatMs: number;
  /** Default wait of the legacy `POST /teams/run` (default 300 s). */
  teamsTimeoutMs: number;
  /** Request body cap (default 1 MiB). */
  maxBodyBytes: number;
  /** Webhook timestamps older or newer than this are refused (default 300 s). */
  webhookToleranceMs: number;
  /** Long-polls one node holds at once; more get 503 + Retry-After (default 2000). */
  maxWaiters: number;
}

/** The stores `server/` reaches besides the runtime, each only as wide as its use; `server/main.ts`
 *  gives them (failures arrive as `HitlError`s: no store error type reaches `server/`). */
export interface ServerStores {
  /** Stored responses of `Idempotency-Key` requests. */
  idempotency: Pick<RunHost['idempotency'], 'get' | 'put' | 'finish' | 'release'>;
  /** Replicate webhook ids: true the first time an id is seen. */
  webhooks: { remember(id: string): Promise<boolean> };
}

/** What the route modules get from `createApp`. */
export interface RouteDeps {
  host: RunHost;
  stores: ServerStores;
  approvals: ApprovalService;
  log: Logger;
  frames: FrameHandler;
  metrics: Metrics;
  limiter: FailureLimiter;
  limits: HttpLimits;
  /** `HITL_PUBLIC_URL`: the base of `websocket_url` / `events_url`; else the request's origin. */
  publicUrl: string | undefined;
  /** `REPLICATE_WEBHOOK_SECRET` (`whsec_…`); without it every webhook is refused. */
  webhookSecret: string | undefined;
  /** Aborted when the server shuts down: long-polls answer, streams end. */
  shutdown: AbortSignal;
  now: () => number;
  /** The node's long-polls: bounded, and ended when their client disconnects. */
  waiters: Waiters;
}

/** Base URLs for links in responses. */
export function baseUrls(
  deps: Pick<RouteDeps, 'publicUrl'>,
  requestUrl: string,
): { http: string; ws: string } {
  const http = (deps.publicUrl ?? new URL(requestUrl).origin).replace(/\/+$/, '');
  return { http, ws: http.replace(/^http/, 'ws') };
}

export type { Auth };
