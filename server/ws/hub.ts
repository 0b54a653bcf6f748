import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import type { ApprovalService } from '../../actors/approvals.ts';
import type { Logger } from '../../actors/logger.ts';
import type { RunHost } from '../../actors/run-host.ts';
import type { HostMessage } from '../../actors/run-messages.ts';
import type { Auth, Principal } from '../auth/auth.ts';
import { createFailureLimiter, type FailureLimiter } from '../auth/rate-limit.ts';
import { jsonProblem } from '../hostile-json.ts';
import { type Connection, createConnection } from './connection.ts';
import { createStepMemory } from './events.ts';
import {
  ClientFrame,
  createFrameHandler,
  frameError,
  replyFrame,
  requestIdOf,
  schemaError,
} from './frames.ts';
import { SubscribeData } from './schemas.ts';
import { authenticateUpgrade, refuseUpgrade, upgradeUrl } from './upgrade.ts';

/** What `attachWebSocket` needs; the tuning knobs have production defaults. */
export interface WebSocketDeps {
  host: RunHost;
  approvals: ApprovalService;
  auth: Auth;
  log: Logger;
  /** Close a socket (1008) when more than this many bytes wait to be sent (default 8 MiB). */
  maxBufferedBytes?: number;
  /** Ping every socket this often; one that missed the last pong is terminated (default 30 s). */
  heartbeatMs?: number;
  /** Events read per page during a catch-up (default 500). */
  pageSize?: number;
  /** Failed upgrade authentications allowed per client address and minute (default 30). */
  authFailuresPerMinute?: number;
  /** The failed-auth limiter shared with HTTP (SPEC §7: one for both); made here when absent. */
  limiter?: FailureLimiter;
}

/** Hard cap: `ws` closes the connection with 1009 above it. */
export const MAX_PAYLOAD_BYTES = 4 * 1024 * 1024;
/** Frames above this (and up to the hard cap) get an `error` frame; the socket stays open. */
export const MAX_FRAME_BYTES = 1024 * 1024;
const MAX_IN_FLIGHT = 32;

function sizeOf(raw: RawData): number {
  if (Array.isArray(raw)) return raw.reduce((n, b) => n + b.length, 0);
  return raw instanceof ArrayBuffer ? raw.byteLength : raw.length;
}

function textOf(raw: RawData): string {
  if (Array.isArray(raw)) return Buffer.concat(raw).toString('utf8');
  return Buffer.from(raw as ArrayBuffer).toString('utf8');
}

/** The reviewer/service WebSocket of SPEC §4 on `GET /ws` of an HTTP server. */
export function attachWebSocket(server: Server, deps: WebSocketDeps) {
  const { host, log } = deps;
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_PAYLOAD_BYTES });
  const handler = createFrameHandler({ host, approvals: deps.approvals, log });
  const sockets = new Map<WebSocket, { conn: Connection; alive: boolean }>();
  const steps = createStepMemory();
  const failures = deps.limiter ?? createFailureLimiter({ maxFailures: deps.authFailuresPerMinute ?? 30 });
  let closing = false;

  const unsubscribe = host.subscribe((m: HostMessage) => {
    const prev = m.kind === 'run' ? steps.advance(m) : null;
    for (const { conn } of sockets.values()) {
      try {
        if (m.kind === 'run') conn.onRun(m, prev);
        else conn.onApproval(m);
      } catch (err) {
        log.warn({ err: err instanceof Error ? err.message : String(err) }, 'websocket delivery failed');
      }
    }
  });

  const heartbeat = setInterval(() => {
    for (const [ws, s] of sockets) {
      if (!s.alive) {
        ws.terminate();
        continue;
      }
      s.alive = false;
      try {
        ws.ping();
      } catch {
        ws.terminate();
      }
    }
  }, deps.heartbeatMs ?? 30_000);
  heartbeat.unref();

  function onMessage(conn: Connection, state: { inFlight: number }, raw: RawData): void {
    if (sizeOf(raw) > MAX_FRAME_BYTES) {
      conn.send({
        type: 'error',
        data: { code: 'payload_too_large', message: 'Frames are limited to 1 MiB' },
      });
      return;
    }
    let frame: unknown;
    try {
      frame = JSON.parse(textOf(raw));
    } catch {
      conn.send({ type: 'error', data: { code: 'invalid_json', message: 'The frame is not valid JSON' } });
      return;
    }
    const requestId = requestIdOf(frame);
    const hostile = jsonProblem(frame);
    if (hostile) {
      const field = hostile.path === '(body)' ? 'frame' : `frame.${hostile.path}`;
      conn.send(
        replyFrame(
          'error',
          {
            code: 'invalid_request',
            message: `Invalid frame: ${field} ${hostile.problem}`,
            details: { fields: [field] },
          },
          requestId,
        ),
      );
      return;
    }
    const parsed = ClientFrame.safeParse(frame);
    if (!parsed.success) {
      conn.send(replyFrame('error', schemaError(parsed.error, 'frame'), requestId));
      return;
    }
    if (state.inFlight >= MAX_IN_FLIGHT) {
      conn.send(
        replyFrame('error', { code: 'rate_limited', message: 'Too many requests in flight' }, requestId),
      );
      return;
    }
    const { type, data } = parsed.data;
    const reply = (t: string, d: object) => conn.send(replyFrame(t, d, requestId));
    let work: Promise<unknown>;
    if (type === 'subscribe' || type === 'unsubscribe') {
      const d = SubscribeData.safeParse(data);
      if (!d.success) {
        reply('error', schemaError(d.error));
        return;
      }
      work =
        type === 'subscribe'
          ? conn.subscribe(d.data, (r) => reply('subscribed', r))
          : Promise.resolve(reply('unsubscribed', conn.unsubscribe(d.data)));
    } else {
      work = handler.handle(frame, conn.principal).then((r) => conn.send(r));
    }
    state.inFlight++;
    work
      .catch((err: unknown) => reply('error', frameError(err, log)))
      .finally(() => {
        state.inFlight--;
      });
  }

  function onConnection(ws: WebSocket, principal: Principal): void {
    const conn = createConnection(ws, principal, {
      host,
      log,
      maxBufferedBytes: deps.maxBufferedBytes ?? 8 << 20,
      ...(deps.pageSize !== undefined ? { pageSize: deps.pageSize } : {}),
    });
    const s = { conn, alive: true };
    const state = { inFlight: 0 };
    sockets.set(ws, s);
    ws.on('pong', () => {
      s.alive = true;
    });
    ws.on('message', (raw) => {
      // A frame handler's exception must not escape into the socket's event emitter (SPEC §7).
      try {
        onMessage(conn, state, raw);
      } catch (err) {
        conn.send({ type: 'error', data: frameError(err, log) });
      }
    });
    ws.on('close', () => sockets.delete(ws));
    ws.on('error', (err) => log.warn({ err: err.message }, 'websocket error'));
  }

  function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = upgradeUrl(req);
    if (url?.pathname !== '/ws') {
      // Another upgrade handler may own that path; alone on the server, answer 404.
      if (server.listenerCount('upgrade') === 1) refuseUpgrade(socket, 404, 'Not found');
      return;
    }
    if (closing) {
      refuseUpgrade(socket, 503, 'Server is shutting down');
      return;
    }
    const address = failures.addressOf(req.socket.remoteAddress, req.headers['x-forwarded-for']);
    if (failures.blockedFor(address) > 0) {
      refuseUpgrade(socket, 429, 'Too many failed authentications; try again later');
      return;
    }
    const onError = () => socket.destroy();
    socket.on('error', onError);
    authenticateUpgrade(deps.auth, req, url).then(
      (principal) => {
        if (!principal) {
          failures.fail(address);
          refuseUpgrade(socket, 401, 'Missing or invalid token');
        } else if (socket.destroyed || closing) {
          socket.destroy();
        } else {
          socket.off('error', onError);
          wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, principal));
        }
      },
      (err: unknown) => {
        log.error(
          { err: err instanceof Error ? err.message : String(err) },
          'websocket authentication failed',
        );
        refuseUpgrade(socket, 503, 'Authentication is unavailable');
      },
    );
  }
  server.on('upgrade', onUpgrade);

  return {
    /** Stop accepting, close every socket (1001 by default: shutdown) and wait for them. */
    async close(code = 1001): Promise<void> {
      closing = true;
      clearInterval(heartbeat);
      unsubscribe();
      server.off('upgrade', onUpgrade);
      await Promise.all(
        [...sockets.keys()].map(
          (ws) =>
            new Promise<void>((resolve) => {
              if (ws.readyState === WebSocket.CLOSED) return resolve();
              ws.once('close', () => resolve());
              setTimeout(() => ws.terminate(), 2000).unref();
              ws.close(code, 'Server shutting down');
            }),
        ),
      );
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
    /** Open sockets on this node. */
    count: () => sockets.size,
  };
}

export type WebSocketHub = ReturnType<typeof attachWebSocket>;
