/** Options of the failed-authentication limiter. */
export interface FailureLimitOptions {
  /** Failures allowed per address within the window before it is refused (default 30). */
  maxFailures?: number;
  windowMs?: number;
  now?: () => number;
  /** `HITL_TRUST_PROXY`: the client is the address the proxy saw (last `X-Forwarded-For` entry). */
  trustProxy?: boolean;
}

/**
 * A small in-memory fixed window of failed authentications per client address (SPEC §7), one for
 * HTTP and the WebSocket upgrade alike. Per node only: enough to make guessing keys slow.
 */
export function createFailureLimiter(opts: FailureLimitOptions = {}) {
  const max = opts.maxFailures ?? 30;
  const windowMs = opts.windowMs ?? 60_000;
  const now = opts.now ?? Date.now;
  const windows = new Map<string, { start: number; failures: number }>();

  function current(address: string) {
    const w = windows.get(address);
    if (!w || now() - w.start >= windowMs) return null;
    return w;
  }

  return {
    /**
     * The client's address: the socket's, or behind a trusted proxy the last `X-Forwarded-For`
     * entry (the one that proxy appended; earlier entries are whatever the client sent).
     */
    addressOf(socketAddress: string | undefined, forwardedFor: string | string[] | undefined): string {
      const header = Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor;
      const forwarded = header
        ?.split(',')
        .map((s) => s.trim())
        .filter(Boolean)
        .at(-1);
      if (opts.trustProxy && forwarded) return forwarded.slice(0, 100);
      return socketAddress ?? 'unknown';
    },
    /** Seconds until the address may try again, or 0 when it may now. */
    blockedFor(address: string): number {
      const w = current(address);
      if (!w || w.failures < max) return 0;
      return Math.max(1, Math.ceil((w.start + windowMs - now()) / 1000));
    },
    fail(address: string): void {
      const w = current(address);
      if (w) w.failures++;
      else windows.set(address, { start: now(), failures: 1 });
      // Bounded memory: forget finished windows once there are many addresses.
      if (windows.size > 10_000) {
        for (const [k, v] of windows) if (now() - v.start >= windowMs) windows.delete(k);
      }
    },
  };
}

export type FailureLimiter = ReturnType<typeof createFailureLimiter>;
