/** Options of the failed-authentication limiter. */
export interface FailureLimitOptions {
  /** Failures allowed per address within the window before it is refused (default 30). */
  maxFailures?: number;
  windowMs?: number;
  now?: () => number;
}

/**
 * A small in-memory fixed window of failed authentications per client address (SPEC §7).
 * Per node only: enough to make guessing keys slow; a shared limiter would need Redis.
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
