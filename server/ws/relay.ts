import type { Logger } from '../../actors/logger.ts';
import { redact } from '../../actors/redact.ts';
import type { HostMessage } from '../../actors/run-messages.ts';
import { createStepMemory, type Frame, relayFramesFor } from './events.ts';

export { relayFramesFor } from './events.ts';

/** Options of the outbound relay (SPEC §4: `WEBSOCKET_URL`, `WEBSOCKET_API_KEY`). */
export interface RelayOptions {
  url: string;
  apiKey: string;
  log: Logger;
  fetch?: typeof fetch;
  /** Frames waiting beyond this drop the oldest (default 1000). */
  maxQueue?: number;
  /** Per request (default 2000 ms). */
  timeoutMs?: number;
}

/** `{origin of url as http(s)}/api/send`: ws → http, wss → https. */
export function relayEndpoint(url: string): string {
  const u = new URL(url);
  const protocol = u.protocol === 'wss:' ? 'https:' : u.protocol === 'ws:' ? 'http:' : u.protocol;
  if (protocol !== 'http:' && protocol !== 'https:')
    throw new Error('WEBSOCKET_URL must be ws(s) or http(s)');
  return `${protocol}//${u.host}/api/send`;
}

function reason(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    const code = typeof cause === 'object' && cause !== null ? (cause as { code?: unknown }).code : undefined;
    return typeof code === 'string' ? `${err.name}: ${code}` : `${err.name}: ${err.message}`;
  }
  return String(err);
}

/**
 * POSTs server → client frames, in order, to a deployment's own WebSocket server. Failures are
 * logged (never the key) and never thrown; a dead endpoint only costs the bounded queue.
 */
export function createRelay(opts: RelayOptions) {
  const endpoint = relayEndpoint(opts.url);
  const doFetch = opts.fetch ?? fetch;
  const maxQueue = opts.maxQueue ?? 1000;
  const timeoutMs = opts.timeoutMs ?? 2000;
  const steps = createStepMemory();
  const queue: string[] = [];
  let running: Promise<void> | null = null;
  let closed = false;
  let dropped = 0;

  async function post(body: string): Promise<void> {
    try {
      const res = await doFetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${opts.apiKey}` },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.body?.cancel().catch(() => undefined);
      if (!res.ok) opts.log.warn({ endpoint, status: res.status }, 'relay refused a frame');
    } catch (err) {
      opts.log.warn({ endpoint, err: reason(err) }, 'relay failed to send a frame');
    }
  }

  async function drain(): Promise<void> {
    for (let body = queue.shift(); body !== undefined; body = queue.shift()) await post(body);
  }

  /** Queue one frame for the endpoint (never throws, never waits). */
  function send(frame: object, user_id: string | null, session_id: string | null): void {
    if (closed) return;
    if (queue.length >= maxQueue) {
      queue.shift();
      dropped++;
      opts.log.warn({ endpoint, dropped, max_queue: maxQueue }, 'relay queue full: dropped the oldest frame');
    }
    queue.push(JSON.stringify({ message: frame, user_id, session_id }));
    kick();
  }

  function kick(): void {
    if (running || queue.length === 0) return;
    // A frame queued while the previous drain was finishing starts the next one.
    running = drain().finally(() => {
      running = null;
      kick();
    });
  }

  /**
   * Relay every frame of a host message (call it for messages this node wrote). Secrets are
   * redacted once more on the way out (SPEC §7); a malformed message is logged, never thrown.
   */
  function forward(message: HostMessage): void {
    try {
      const owner = message.kind === 'run' ? message : message.approval;
      for (const frame of relayFramesFor(message, steps) satisfies Frame[]) {
        send(redact(frame), owner.user_id, owner.session_id);
      }
    } catch (err) {
      opts.log.warn({ err: reason(err) }, 'relay skipped a malformed message');
    }
  }

  return {
    send,
    forward,
    /** Stop accepting; give queued frames up to `graceMs` to go out, then drop them. */
    async close(graceMs = 5000): Promise<void> {
      closed = true;
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((r) => {
        timer = setTimeout(r, graceMs);
      });
      while (running) {
        const done = await Promise.race([running.then(() => true), grace.then(() => false)]);
        if (!done) break;
      }
      clearTimeout(timer);
      queue.length = 0;
    },
  };
}

export type Relay = ReturnType<typeof createRelay>;
