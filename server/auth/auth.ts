import { createHash, hash, timingSafeEqual } from 'node:crypto';
import { verify } from 'hono/jwt';
import type { Reviewers } from '../../machines/schemas.ts';

/** Who is calling: a service (API key) or a reviewer (JWT). */
export type Principal =
  | { kind: 'service'; keyId: string; actor: string }
  | { kind: 'reviewer'; sub: string; roles: string[]; actor: string };

/** Anything with reviewers (an approval, a run's config): who may decide or read it. */
type ReviewersLike = { reviewers: Reviewers };

/** Reviewer JWTs whose `exp` is further ahead than this are refused. */
export const MAX_TOKEN_TTL_S = 24 * 3600;

/** `service:<id>`: the first 8 hex characters of the key's SHA-256. */
export function keyId(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

const LABEL = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,63})=([^=].*)$/;

/**
 * A configured key: `label=key` acts as `service:label`, a bare key as `service:<first 8 hex of
 * its SHA-256>`. The label is never part of the secret; base64 padding (`…==`) is no label.
 */
export function parseKey(entry: string): { key: string; id: string } {
  const m = LABEL.exec(entry);
  if (m?.[1] && m[2]) return { key: m[2], id: m[1] };
  return { key: entry, id: keyId(entry) };
}

/** Verifies bearer tokens against the configured service keys and the reviewer JWT secret. */
export function createAuth(opts: { apiKeys: string[]; jwtSecret?: string | undefined; now?: () => number }) {
  const now = opts.now ?? Date.now;
  const keys = opts.apiKeys.map(parseKey).map((k) => ({
    digest: createHash('sha256').update(k.key).digest(),
    id: k.id,
  }));
  // One actor, one key: a label used twice would merge two services' logs and idempotency keys.
  const ids = keys.map((k) => k.id);
  const twice = ids.find((id, i) => ids.indexOf(id) !== i);
  if (twice) throw new Error(`Invalid configuration:\n  HITL_API_KEYS: two keys act as service:${twice}`);

  async function authenticate(token: string | undefined | null): Promise<Principal | null> {
    if (!token) return null;
    // One-shot hash: no Hash object per request.
    const digest = hash('sha256', token, 'buffer');
    for (const k of keys) {
      if (timingSafeEqual(digest, k.digest))
        return { kind: 'service', keyId: k.id, actor: `service:${k.id}` };
    }
    if (!opts.jwtSecret || token.split('.').length !== 3) return null;
    try {
      const claims = await verify(token, opts.jwtSecret, 'HS256');
      const { sub, roles, exp } = claims as { sub?: unknown; roles?: unknown; exp?: unknown };
      if (typeof sub !== 'string' || !sub || typeof exp !== 'number') return null;
      // SPEC §7: a token valid for more than a day is refused (a leaked one would live too long).
      if (exp > Math.floor(now() / 1000) + MAX_TOKEN_TTL_S) return null;
      if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string')) return null;
      return { kind: 'reviewer', sub, roles, actor: `user:${sub}` };
    } catch {
      return null;
    }
  }

  return { authenticate };
}

export type Auth = ReturnType<typeof createAuth>;

/** `Authorization: Bearer <token>` → token. */
export function bearer(header: string | undefined | null): string | null {
  const m = header?.match(/^Bearer\s+(.+)$/i);
  return m?.[1]?.trim() ?? null;
}

/** May this principal decide an approval with these reviewers? (SPEC §7) */
export function canDecide(p: Principal, approval: ReviewersLike): boolean {
  if (p.kind === 'service') return true;
  if (p.roles.includes('admin')) return true;
  if (approval.reviewers.user_ids.includes(p.sub)) return true;
  return p.roles.some((r) => approval.reviewers.roles.includes(r));
}

/** May this principal read a run (its user, or someone who may decide its approvals)? */
export function canRead(p: Principal, run: { user_id: string | null } & ReviewersLike): boolean {
  if (p.kind === 'service') return true;
  return run.user_id === p.sub || canDecide(p, run);
}
