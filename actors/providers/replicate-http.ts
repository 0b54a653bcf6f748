import Replicate from 'replicate';
import { ProviderError } from './types.ts';

/** A fetch function; the replicate client passes a URL object and a plain init. */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** How every request to Replicate is made. */
export interface HttpPolicy {
  token: string;
  baseUrl: string;
  fetch: FetchLike;
  /** Per attempt; on a create, a timeout means the outcome is unknown. */
  timeoutMs: number;
  /** Extra attempts of a GET after a 429, a 5xx or a network error. */
  getRetries: number;
  maxSleepMs: number;
}

type Outcome =
  | { kind: 'answered' }
  | { kind: 'status'; status: number; headers: Headers; body: string }
  | { kind: 'error'; error: unknown };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `Retry-After` in ms: delta-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(header: string | null, now = Date.now()): number | null {
  const value = header?.trim();
  if (!value) return null;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

function attempt(policy: HttpPolicy, input: string | URL | Request, init?: RequestInit): Promise<Response> {
  return policy.fetch(input, { ...init, signal: AbortSignal.timeout(policy.timeoutMs) });
}

/** GETs are safe to repeat: retry 429/5xx/network errors with backoff, honouring Retry-After, bounded. */
async function attemptWithRetries(policy: HttpPolicy, input: string | URL | Request, init?: RequestInit) {
  for (let n = 0; ; n += 1) {
    const last = n >= policy.getRetries;
    const outcome = await attempt(policy, input, init).then(
      (response) => ({ response }),
      (error: unknown) => ({ error }),
    );
    if ('error' in outcome && last) throw outcome.error;
    if ('response' in outcome) {
      const { response } = outcome;
      if (last || (response.status !== 429 && response.status < 500)) return response;
      await response.body?.cancel();
      const wanted = parseRetryAfter(response.headers.get('retry-after'));
      await sleep(Math.min(policy.maxSleepMs, wanted ?? 250 * 2 ** n));
    } else {
      await sleep(Math.min(policy.maxSleepMs, 250 * 2 ** n));
    }
  }
}

function codesOf(error: unknown, depth = 0): string[] {
  if (typeof error !== 'object' || error === null || depth > 6) return [];
  const own = 'code' in error && typeof error.code === 'string' ? [error.code] : [];
  const cause = 'cause' in error ? codesOf(error.cause, depth + 1) : [];
  const nested = error instanceof AggregateError ? error.errors.flatMap((e) => codesOf(e, depth + 1)) : [];
  return [...own, ...cause, ...nested];
}

function isTimeout(error: unknown): boolean {
  const name = typeof error === 'object' && error !== null && 'name' in error ? error.name : null;
  return name === 'TimeoutError' || name === 'AbortError';
}

function detailOf(body: string): string {
  try {
    const json: unknown = JSON.parse(body);
    if (typeof json === 'object' && json !== null) {
      if ('detail' in json && typeof json.detail === 'string') return json.detail;
      if ('title' in json && typeof json.title === 'string') return json.title;
    }
  } catch {
    // not JSON: the text itself is the detail
  }
  return body.slice(0, 500) || 'no detail';
}

function toProviderError(policy: HttpPolicy, outcome: Outcome | null, thrown: unknown): ProviderError {
  const redact = (text: string) => (policy.token ? text.replaceAll(policy.token, '[redacted]') : text);
  if (outcome?.kind === 'status') {
    const { status } = outcome;
    const detail = redact(detailOf(outcome.body));
    if (status === 429) {
      const wait = parseRetryAfter(outcome.headers.get('retry-after'));
      return new ProviderError('rate_limited', `Replicate is rate limiting: ${detail}`, status, wait);
    }
    if (status === 422) return new ProviderError('validation', detail, status);
    const kind = status >= 500 ? 'outcome_unknown' : 'provider_error';
    return new ProviderError(kind, `Replicate answered ${status}: ${detail}`, status);
  }
  const error = outcome?.kind === 'error' ? outcome.error : thrown;
  if (isTimeout(error)) {
    return new ProviderError('outcome_unknown', `Replicate did not answer within ${policy.timeoutMs} ms`);
  }
  if (codesOf(error).includes('ECONNREFUSED')) {
    return new ProviderError('connection_refused', 'The connection to Replicate was refused');
  }
  // The request may have reached Replicate (reset connection, unreadable 2xx body): we cannot tell.
  if (outcome !== null) {
    const code = codesOf(error)[0] ?? 'unreadable answer';
    return new ProviderError('outcome_unknown', `The exchange with Replicate broke off (${code})`);
  }
  const message = error instanceof Error ? error.message : String(error);
  return new ProviderError('provider_error', `Replicate client error: ${redact(message).slice(0, 300)}`);
}

/**
 * Run one client operation (one HTTP request) under our policy. The client's own retry loop
 * re-sends 429s, POSTs included, without sleeping and ignoring Retry-After, and re-sends after
 * any thrown fetch error: only the first fetch call goes out, every later one is refused, and
 * the error is decided from that single recorded outcome. A create is thus sent exactly once.
 */
export async function withReplicate<T>(
  policy: HttpPolicy,
  op: (client: Replicate) => Promise<T>,
): Promise<T> {
  const seen: { outcome: Outcome | null } = { outcome: null };
  const oneShot: FetchLike = async (input, init) => {
    if (seen.outcome) throw new Error('repeated request suppressed');
    const method = (init?.method ?? 'GET').toUpperCase();
    try {
      const response =
        method === 'GET' ? await attemptWithRetries(policy, input, init) : await attempt(policy, input, init);
      if (response.ok) {
        seen.outcome = { kind: 'answered' };
        return response;
      }
      const body = await response.text();
      seen.outcome = { kind: 'status', status: response.status, headers: response.headers, body };
      return new Response(body, {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      });
    } catch (error) {
      seen.outcome = { kind: 'error', error };
      throw error;
    }
  };
  const client = new Replicate({
    auth: policy.token,
    baseUrl: policy.baseUrl,
    fetch: oneShot,
    userAgent: 'hitl-runs',
  });
  try {
    return await op(client);
  } catch (thrown) {
    throw toProviderError(policy, seen.outcome, thrown);
  }
}
