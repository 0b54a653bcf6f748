import { WebSocket } from 'ws';
import { HitlError } from '../../actors/errors.ts';
import type { Logger } from '../../actors/logger.ts';
import type { RunHost } from '../../actors/run-host.ts';
import type { ApprovalMessage, RunMessage } from '../../actors/run-messages.ts';
import { isTerminalStatus } from '../../machines/schemas.ts';
import { readAudience, runAudience } from '../auth/access.ts';
import { canDecide, canRead, type Principal } from '../auth/auth.ts';
import { approvalFrames, type EventRow, requestFrame, resolvedFrame, runFrames } from './events.ts';
import { frameError } from './frames.ts';
import type { SubscribeData } from './schemas.ts';

/** What this socket has been sent of one run: the last seq and its step; catch-up state. */
interface RunTrack {
  explicit: boolean;
  last: number;
  step: string | null;
  filling: boolean;
  pending: EventRow[][];
}

export interface ConnectionDeps {
  host: RunHost;
  log: Logger;
  /** Close with 1008 when more than this many bytes wait to be sent. */
  maxBufferedBytes: number;
  /** Catch-up page size. */
  pageSize?: number;
}

const MAX_SUBSCRIPTIONS = 100;
const MAX_TRACKS = 1000;
/** Live messages buffered per run during a catch-up. */
const MAX_PENDING = 10_000;

/** One authenticated socket: safe sends, subscriptions, and gap-free per-run event delivery. */
export function createConnection(ws: WebSocket, principal: Principal, deps: ConnectionDeps) {
  const runs = new Map<string, RunTrack>();
  const sessions = new Set<string>();
  const users = new Set<string>();
  const pageSize = deps.pageSize ?? 500;

  /** Send one frame if the socket is open; a consumer that does not keep up is closed (1008). */
  function send(frame: object, done?: (err?: Error) => void): boolean {
    if (ws.readyState !== WebSocket.OPEN) return false;
    if (ws.bufferedAmount > deps.maxBufferedBytes) {
      ws.close(1008, 'Slow consumer');
      return false;
    }
    ws.send(JSON.stringify(frame), done);
    return true;
  }

  /** Send frames and resolve once the last one is written (backpressure for catch-up). */
  function sendFlushed(frames: object[]): Promise<void> {
    return new Promise((resolve) => {
      if (frames.length === 0) return resolve();
      frames.forEach((f, i) => {
        const sent = send(f, i === frames.length - 1 ? () => resolve() : undefined);
        if (!sent) resolve();
      });
    });
  }

  function framesOf(t: RunTrack, rows: EventRow[]) {
    const frames = runFrames(rows, t.step);
    const last = rows[rows.length - 1];
    if (last) {
      t.last = last.seq;
      t.step = last.step;
    }
    return frames;
  }

  function track(runId: string, t: RunTrack): RunTrack {
    runs.set(runId, t);
    if (runs.size > MAX_TRACKS) {
      for (const [id, old] of runs) {
        if (runs.size <= MAX_TRACKS) break;
        if (!old.explicit && !old.filling) runs.delete(id);
      }
    }
    return t;
  }

  /** Deliver rows of a run: drop what was sent, fill a gap from the log, buffer during catch-up. */
  function offer(runId: string, t: RunTrack, rows: EventRow[], mayFill = true): void {
    if (t.filling) {
      // A catch-up that cannot get its pages out while the run keeps moving: a slow consumer.
      if (t.pending.length >= MAX_PENDING) ws.close(1008, 'Slow consumer');
      else t.pending.push(rows);
      return;
    }
    const fresh = rows.filter((r) => r.seq > t.last);
    const first = fresh[0];
    if (!first) return;
    if (first.seq > t.last + 1 && mayFill) {
      t.pending.push(rows);
      void fill(runId, t);
      return;
    }
    for (const f of framesOf(t, fresh)) send(f);
  }

  /** Read the log after `t.last` page by page (the row at `t.last` gives the step), then drain the buffer. */
  async function fill(runId: string, t: RunTrack): Promise<void> {
    t.filling = true;
    try {
      let after = t.step === null && t.last > 0 ? t.last - 1 : t.last;
      for (;;) {
        const page = await deps.host.listEvents(runId, after, pageSize);
        if (ws.readyState !== WebSocket.OPEN) return;
        const at = page.find((r) => r.seq === t.last);
        if (at && t.step === null) t.step = at.step;
        const rows = page.filter((r) => r.seq > t.last);
        if (rows.length > 0) await sendFlushed(framesOf(t, rows));
        const tail = page[page.length - 1];
        if (page.length < pageSize || !tail) break;
        after = tail.seq;
      }
    } catch (err) {
      send({ type: 'error', data: { ...frameError(err, deps.log), run_id: runId } });
    } finally {
      t.filling = false;
      const queued = t.pending;
      t.pending = [];
      // The log was read to its end: what is still missing now will not appear; never loop.
      for (const rows of queued) offer(runId, t, rows, false);
    }
  }

  /** A committed run change, with the step before it (from the node's step memory). */
  function onRun(m: RunMessage, prevStep: string | null): void {
    const run = { user_id: m.user_id, reviewers: m.reviewers };
    if (m.resolved.length > 0 && canDecide(principal, run))
      for (const r of m.resolved) send(resolvedFrame(r));
    const existing = runs.get(m.run_id);
    const subscribed =
      existing?.explicit === true ||
      (m.session_id !== null && sessions.has(m.session_id)) ||
      (m.user_id !== null && users.has(m.user_id));
    const first = m.events[0];
    if (subscribed && first && canRead(principal, readAudience(m))) {
      const t =
        existing ??
        track(m.run_id, {
          explicit: false,
          last: first.seq - 1,
          step: prevStep,
          filling: false,
          pending: [],
        });
      offer(m.run_id, t, m.events);
      if (isTerminalStatus(m.status) && !t.explicit && !t.filling) runs.delete(m.run_id);
    }
    for (const a of m.opened) if (canDecide(principal, a)) send(requestFrame(a));
  }

  /** A standalone approval opened or resolved: its deciders and its creating key's sockets. */
  function onApproval(m: ApprovalMessage): void {
    const mine = principal.kind === 'service' && principal.actor === m.created_by;
    if (!mine && !canDecide(principal, m.approval)) return;
    for (const f of approvalFrames(m)) send(f);
  }

  /** `subscribe`: reply first, then (for a run) the catch-up, then live. */
  async function subscribe(d: SubscribeData, reply: (data: object) => void): Promise<void> {
    if (d.session_id !== undefined || d.user_id !== undefined) {
      const set = d.session_id !== undefined ? sessions : users;
      const key = (d.session_id ?? d.user_id) as string;
      if (!set.has(key) && set.size >= MAX_SUBSCRIPTIONS)
        throw new HitlError('invalid_request', 'Too many subscriptions');
      set.add(key);
      reply(d);
      return;
    }
    const runId = d.run_id as string;
    const run = await deps.host.read(runId);
    if (!run) throw new HitlError('run_not_found', `Run ${runId} not found`);
    if (!canRead(principal, runAudience(run))) {
      throw new HitlError('forbidden', 'You may not read this run');
    }
    const existing = runs.get(runId);
    if (existing) {
      // Already tracked: a socket never gets a seq twice, so the catch-up point stays where it is.
      existing.explicit = true;
      reply({ run_id: runId, seq: existing.last });
      return;
    }
    if ([...runs.values()].filter((t) => t.explicit).length >= MAX_SUBSCRIPTIONS) {
      throw new HitlError('invalid_request', 'Too many subscriptions');
    }
    const t = track(runId, {
      explicit: true,
      last: d.after_seq ?? run.seq,
      step: null,
      filling: true,
      pending: [],
    });
    reply({ run_id: runId, ...(d.after_seq !== undefined ? { after_seq: d.after_seq } : {}), seq: run.seq });
    await fill(runId, t);
  }

  /** `unsubscribe`: stop live delivery (what was sent is remembered, so nothing comes twice). */
  function unsubscribe(d: SubscribeData): object {
    if (d.session_id !== undefined) sessions.delete(d.session_id);
    else if (d.user_id !== undefined) users.delete(d.user_id);
    else if (d.run_id !== undefined) {
      const t = runs.get(d.run_id);
      if (t) t.explicit = false;
    }
    return d;
  }

  return { principal, send, onRun, onApproval, subscribe, unsubscribe };
}

export type Connection = ReturnType<typeof createConnection>;
