// @ts-check
/**
 * Reads over HTTP with the tab's token (the run view, event log and run lists the WebSocket does not
 * carry). The token goes in the Authorization header only, never in a URL.
 */

/**
 * @param {string} token
 * @param {string} path a path of this origin
 * @returns {Promise<{ ok: true, data: any } | { ok: false, status: number, message: string }>}
 */
export async function getJson(token, path) {
  try {
    const res = await fetch(path, { headers: { authorization: `Bearer ${token}` }, cache: 'no-store' });
    const data = await res.json().catch(() => null);
    if (res.ok) return { ok: true, data };
    const message = data?.error?.message ?? `HTTP ${res.status}`;
    return { ok: false, status: res.status, message: String(message) };
  } catch (err) {
    return { ok: false, status: 0, message: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * A reader that remembers the last answer per path for a short while (re-renders do not refetch).
 * @param {() => string | null} token
 */
export function createReader(token) {
  /** @type {Map<string, { at: number, value: Promise<any> }>} */
  const cache = new Map();
  return {
    /**
     * @param {string} path
     * @param {number} [maxAgeMs]
     */
    get(path, maxAgeMs = 2000) {
      const hit = cache.get(path);
      if (hit && Date.now() - hit.at < maxAgeMs) return hit.value;
      const t = token();
      const value = t ? getJson(t, path) : Promise.resolve({ ok: false, status: 401, message: 'signed out' });
      cache.set(path, { at: Date.now(), value });
      if (cache.size > 200) cache.delete(cache.keys().next().value ?? '');
      return value;
    },
    clear() {
      cache.clear();
    },
  };
}

/** @typedef {ReturnType<typeof createReader>} Reader */
