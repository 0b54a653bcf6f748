const SECRET_KEY = /token|secret|api_key|apikey|password|authorization/i;

/** Replace values under secret-looking keys with "[redacted]", at any depth (SPEC §7). */
export function redact<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => redact(v)) as T;
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? '[redacted]' : redact(v);
    return out as T;
  }
  return value;
}
