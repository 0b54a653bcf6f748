import { createHmac, timingSafeEqual } from 'node:crypto';

/** The Standard Webhooks headers Replicate sends. */
export interface WebhookHeaders {
  id: string | undefined;
  timestamp: string | undefined;
  signature: string | undefined;
}

/**
 * Verify a Standard Webhooks signature on the RAW body (SPEC §5): HMAC-SHA256 of
 * `id.timestamp.body` with the base64 key of `whsec_…`, compared in constant time, and the
 * timestamp within `toleranceMs` of now. (`replicate.validateWebhook` checks neither of the last two.)
 */
export function verifyWebhook(
  secret: string,
  h: WebhookHeaders,
  rawBody: string,
  nowMs: number,
  toleranceMs = 300_000,
): { ok: true } | { ok: false; reason: string } {
  if (!h.id || !h.timestamp || !h.signature) return { ok: false, reason: 'missing webhook headers' };
  if (!/^\d{1,12}$/.test(h.timestamp)) return { ok: false, reason: 'malformed webhook-timestamp' };
  if (Math.abs(nowMs - Number(h.timestamp) * 1000) > toleranceMs)
    return { ok: false, reason: 'stale webhook-timestamp' };
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${h.id}.${h.timestamp}.${rawBody}`).digest();
  // The header may carry several space-separated signatures (key rotation): any v1 match is enough.
  for (const entry of h.signature.split(' ')) {
    const [version, value] = entry.split(',', 2);
    if (version !== 'v1' || !value) continue;
    const given = Buffer.from(value, 'base64');
    if (given.length === expected.length && timingSafeEqual(given, expected)) return { ok: true };
  }
  return { ok: false, reason: 'bad webhook-signature' };
}
