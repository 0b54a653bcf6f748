import type { Context } from 'hono';
import { Gauge, type Registry } from 'prom-client';
import { HitlError } from '../actors/errors.ts';
import type { AppEnv } from './app-env.ts';
import { type Subscribable, type WaitOptions, waitUntil } from './wait.ts';

/** Long-polls one node holds at most by default (SPEC §7); more get `503` + `Retry-After`. */
export const DEFAULT_MAX_WAITERS = 2000;

/**
 * The long-polls of one node: bounded in number, and each ends when its client disconnects (the
 * request's abort signal) or the server shuts down, so no wait (and its reads) outlives a client.
 */
export function createWaiters(opts: { max?: number; retryAfterSeconds?: number } = {}) {
  const max = opts.max ?? DEFAULT_MAX_WAITERS;
  let held = 0;

  /** Take a slot for this request, or refuse with `503 unavailable` and `Retry-After`. */
  function enter(c: Context<AppEnv>, shutdown: AbortSignal): { signal: AbortSignal; leave(): void } {
    if (held >= max) {
      c.header('Retry-After', String(opts.retryAfterSeconds ?? 2));
      throw new HitlError('unavailable', `This node holds ${max} long-polls already; retry shortly`);
    }
    held++;
    let left = false;
    return {
      signal: AbortSignal.any([shutdown, c.req.raw.signal]),
      leave() {
        if (!left) held--;
        left = true;
      },
    };
  }

  /** `waitUntil` in a slot; resolves undefined on timeout, shutdown or a client gone. */
  async function wait<T>(
    c: Context<AppEnv>,
    shutdown: AbortSignal,
    source: Subscribable,
    wait: Omit<WaitOptions<T>, 'signal'>,
  ): Promise<T | undefined> {
    const slot = enter(c, shutdown);
    try {
      return await waitUntil(source, { ...wait, signal: slot.signal });
    } finally {
      slot.leave();
    }
  }

  return {
    enter,
    wait,
    /** Long-polls waiting now. */
    count: () => held,
    max,
  };
}

export type Waiters = ReturnType<typeof createWaiters>;

/** `hitl_long_poll_waiters` on a metrics registry (once per registry). */
export function waiterGauge(registry: Registry, waiters: Waiters): void {
  if (registry.getSingleMetric('hitl_long_poll_waiters')) return;
  new Gauge({
    name: 'hitl_long_poll_waiters',
    help: 'Long-polls (wait_for, ?wait=, /teams/run) waiting on this node',
    registers: [registry],
    collect() {
      this.set(waiters.count());
    },
  });
}
