// @ts-check
/**
 * The console's connection: `/ws` of this origin with `?token=` (a browser cannot set headers on a
 * WebSocket), request/reply by `request_id`, and reconnection with backoff when it drops.
 */

/** @typedef {{ type: string, data?: unknown, request_id?: string | number }} Frame */
/** @typedef {(frame: Frame) => void} ReplyHandler */
/** @typedef {'online' | 'offline' | 'connecting'} Status */

const MAX_BACKOFF_MS = 30_000;

/**
 * Ask the server whether it takes a token (any authenticated read does).
 * @param {string} token
 * @returns {Promise<'ok' | 'refused' | 'rate_limited' | 'unknown'>}
 */
export async function checkToken(token) {
  try {
    const res = await fetch('/hitl/approvals/pending?limit=1', {
      headers: { authorization: `Bearer ${token}` },
      cache: 'no-store',
    });
    if (res.status === 401) return 'refused';
    if (res.status === 429) return 'rate_limited';
    return res.ok ? 'ok' : 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * A socket that keeps itself connected until `close()`.
 * @param {object} opts
 * @param {string} opts.token
 * @param {() => void} opts.onOpen each time a connection opens (the first and every reconnect)
 * @param {(frame: Frame) => void} opts.onPush frames that answer no request
 * @param {(status: Status, message: string) => void} opts.onStatus
 * @param {() => void} opts.onRefused the server no longer takes the token
 */
export function createSocket(opts) {
  /** @type {WebSocket | null} */
  let ws = null;
  /** @type {Map<string, ReplyHandler>} */
  const waiting = new Map();
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  let attempt = 0;
  let requests = 0;
  let closed = false;

  function connect() {
    clearTimeout(timer);
    if (closed) return;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = new WebSocket(`${scheme}//${location.host}/ws?token=${encodeURIComponent(opts.token)}`);
    ws = socket;
    let opened = false;
    opts.onStatus('connecting', 'Connecting…');
    socket.addEventListener('open', () => {
      opened = true;
      attempt = 0;
      opts.onStatus('online', 'Connected');
      opts.onOpen();
    });
    socket.addEventListener('message', (event) => onMessage(String(event.data)));
    socket.addEventListener('close', (event) => {
      if (ws !== socket) return; // closed by us, or replaced by a newer socket
      ws = null;
      for (const [id, reply] of waiting) {
        waiting.delete(id);
        reply({
          type: 'error',
          data: { code: 'disconnected', message: 'The connection closed before an answer came' },
        });
      }
      if (opened) {
        retry(event.code === 1001 ? 'The server is restarting' : 'Connection lost');
        return;
      }
      // A refused upgrade tells the browser nothing: ask over HTTP whether the token is the reason.
      void checkToken(opts.token).then((verdict) => {
        if (closed) return;
        if (verdict === 'refused') opts.onRefused();
        else retry('Cannot connect');
      });
    });
  }

  /** @param {string} why */
  function retry(why) {
    const base = Math.min(MAX_BACKOFF_MS, 500 * 2 ** attempt);
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    attempt += 1;
    opts.onStatus('offline', `${why}; reconnecting in ${Math.ceil(delay / 1000)} s`);
    clearTimeout(timer);
    timer = setTimeout(connect, delay);
  }

  /** @param {string} raw */
  function onMessage(raw) {
    /** @type {Frame} */
    let frame;
    try {
      frame = JSON.parse(raw);
    } catch {
      return;
    }
    const id = frame.request_id === undefined ? undefined : String(frame.request_id);
    const reply = id === undefined ? undefined : waiting.get(id);
    if (id !== undefined && reply) {
      waiting.delete(id);
      reply(frame);
    } else {
      opts.onPush(frame);
    }
  }

  connect();

  return {
    /**
     * Send `{ type, data, request_id }`; `onReply` gets the frame answering it.
     * @param {string} type
     * @param {Record<string, unknown>} data
     * @param {ReplyHandler} onReply
     * @returns {boolean} false when not connected (nothing was sent)
     */
    request(type, data, onReply) {
      if (!ws || ws.readyState !== WebSocket.OPEN) return false;
      requests += 1;
      const id = `console-${requests}`;
      waiting.set(id, onReply);
      ws.send(JSON.stringify({ type, data, request_id: id }));
      return true;
    },
    isOpen: () => ws?.readyState === WebSocket.OPEN,
    /** Skip the wait when offline. */
    reconnectNow() {
      if (!ws) connect();
    },
    /** For good (sign-out): no reconnect, no reply will come. */
    close() {
      closed = true;
      clearTimeout(timer);
      waiting.clear();
      const socket = ws;
      ws = null;
      socket?.close(1000, 'Signed out');
    },
  };
}

/** @typedef {ReturnType<typeof createSocket>} Socket */
