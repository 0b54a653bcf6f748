// @ts-check
/**
 * hitl-runs review console: sign in with a token, work the inbox of pending approvals over the
 * WebSocket, look at one beside its original input, decide it, look back at the history. All state
 * lives in one `@xstate/store` store (store.js); this file connects it to the socket, the page and
 * the keyboard. The token lives in this tab's sessionStorage only and goes to this server alone.
 */

import { forgetDraft, readAnswer } from './decide.js';
import { actorName, byId, h, shortId, text, updateCountdown } from './dom.js';
import { historyList } from './history.js';
import { createReader } from './http.js';
import { selection } from './inbox.js';
import { onKey } from './keys.js';
import { updateExpiryNotice } from './media.js';
import { checkToken, createSocket } from './socket.js';
import { createConsoleStore } from './store.js';
import { createView } from './view.js';
import { createStore } from './xstate-store.js';

/** @typedef {import('./context.js').Approval} Approval */
/** @typedef {import('./socket.js').Frame} Frame */

const TOKEN_KEY = 'hitl-console-token';
const PAGE_SIZE = 200;
const MAX_PAGES = 10;
const MAX_ACTIVITY = 50;
/** Error codes that mean the approval is no longer anyone's to decide. */
const GONE = ['approval_not_pending', 'approval_not_found', 'run_terminal'];
const VERBS = /** @type {Record<string, string>} */ ({
  approve: 'approved',
  edit: 'edited',
  reject: 'rejected',
  retry: 'retried',
  expired: 'expired',
  cancelled: 'cancelled',
});

const store = createConsoleStore(createStore);
/** @type {import('./socket.js').Socket | null} */
let socket = null;
/** This tab's actor (`user:<sub>` for a reviewer), to say "you". @type {string | null} */
let me = null;
const reader = createReader(() => sessionStorage.getItem(TOKEN_KEY));

/**
 * A line in the activity log (newest first).
 * @param {'ok' | 'fail' | 'info'} kind
 * @param {string} message
 */
function activity(kind, message) {
  const log = byId('activity');
  const now = new Date();
  log.prepend(
    h('li', { class: kind }, h('time', { datetime: now.toISOString() }, now.toLocaleTimeString()), message),
  );
  while (log.children.length > MAX_ACTIVITY) log.lastElementChild?.remove();
}

/** @param {Approval | null | undefined} a */
function describe(a) {
  if (!a) return 'an approval';
  return a.run_id ? `${a.checkpoint_type} of run ${shortId(a.run_id)}` : `${a.checkpoint_type} (standalone)`;
}

// ---- sign-in ------------------------------------------------------------------------------------

/**
 * Who the token says we are, without showing it: a reviewer JWT's `sub` and roles.
 * @param {string} token
 * @returns {{ label: string, actor: string | null }}
 */
function whoami(token) {
  const parts = token.split('.');
  if (parts.length !== 3) return { label: 'Signed in with a service key', actor: null };
  try {
    const claims = JSON.parse(atob((parts[1] ?? '').replace(/-/g, '+').replace(/_/g, '/')));
    const roles = Array.isArray(claims.roles) ? ` (${claims.roles.map(text).join(', ')})` : '';
    return { label: `Signed in as reviewer ${text(claims.sub)}${roles}`, actor: `user:${text(claims.sub)}` };
  } catch {
    return { label: 'Signed in as a reviewer', actor: null };
  }
}

/** @param {string} token */
function signIn(token) {
  store.trigger.signedIn();
  byId('sign-in').hidden = true;
  byId('workspace').hidden = false;
  byId('sign-out').hidden = false;
  byId('tabs').hidden = false;
  const who = whoami(token);
  me = who.actor;
  byId('whoami').textContent = who.label;
  byId('whoami').hidden = false;
  socket = createSocket({
    token,
    onOpen: listPending, // nothing is pushed on connect: ask, after every (re)connect
    onPush,
    onStatus: (status, message) => store.trigger.connectionChanged({ status, message }),
    onRefused: () => signOut('The server no longer accepts this token; sign in again.'),
  });
}

/** @param {string} [message] why, shown on the sign-in form */
function signOut(message = '') {
  sessionStorage.removeItem(TOKEN_KEY);
  socket?.close();
  socket = null;
  me = null;
  reader.clear();
  store.trigger.signedOut();
  // The next person to sign in on this tab sees nothing of this session.
  byId('activity').replaceChildren();
  for (const id of ['workspace', 'sign-out', 'whoami', 'tabs']) byId(id).hidden = true;
  byId('sign-in').hidden = false;
  byId('sign-in-error').textContent = message;
  byId('token').focus();
}

/** @param {SubmitEvent} event */
async function onSignIn(event) {
  event.preventDefault();
  const input = /** @type {HTMLInputElement} */ (byId('token'));
  const token = input.value.trim();
  const error = byId('sign-in-error');
  error.textContent = '';
  if (!token) return;
  const verdict = await checkToken(token);
  if (verdict === 'refused') {
    error.textContent = 'The server refused this token.';
    return;
  }
  if (verdict === 'rate_limited') {
    error.textContent = 'Too many failed sign-ins from here; try again later.';
    return;
  }
  input.value = '';
  sessionStorage.setItem(TOKEN_KEY, token);
  signIn(token);
}

// ---- the socket ---------------------------------------------------------------------------------

/** Ask for every pending approval, page by page; what is no longer listed was decided meanwhile. */
function listPending() {
  /** @type {Approval[]} */
  const all = [];
  let pages = 0;
  /** @param {string | null} cursor */
  const page = (cursor) =>
    socket?.request('hitl_list_pending', { limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) }, (frame) => {
      if (frame.type !== 'hitl_pending_approvals') {
        const e = /** @type {{ code?: unknown, message?: unknown }} */ (frame.data ?? {});
        activity('fail', `Could not list pending approvals: ${text(e.code)}: ${text(e.message)}`);
        return;
      }
      const data = /** @type {{ approvals: Approval[], next_cursor: string | null }} */ (frame.data);
      all.push(...data.approvals);
      pages += 1;
      if (data.next_cursor && pages < MAX_PAGES) {
        page(data.next_cursor);
        return;
      }
      store.trigger.listed({ approvals: all, complete: !data.next_cursor });
    });
  page(null);
}

/** @param {Frame} frame a frame that answers no request */
function onPush(frame) {
  if (frame.type === 'hitl_approval_request') {
    const a = /** @type {Approval} */ (frame.data);
    if (typeof a?.approval_id !== 'string') return;
    store.trigger.requested({ approval: a });
    activity('info', `New approval: ${describe(a)}`);
  } else if (frame.type === 'hitl_approval_resolved') {
    const d = /** @type {{ approval_id?: unknown, action?: unknown, actor?: unknown }} */ (frame.data ?? {});
    const id = String(d.approval_id);
    const ctx = store.getSnapshot().context;
    const known = ctx.inbox[id] ?? (ctx.shown?.approval_id === id ? ctx.shown : null);
    const verb = VERBS[String(d.action)] ?? text(d.action);
    const by = d.actor ? ` by ${actorName(d.actor, me)}` : '';
    // Our own decisions are logged with their answer.
    if (known && !ctx.decided[id] && !ctx.pending[id])
      activity('info', `${describe(known)} was ${verb}${by}`);
    store.trigger.resolved({ approval_id: id, why: `This approval was ${verb}${by}.` });
    reader.clear();
  } else if (frame.type === 'error') {
    const e = /** @type {{ code?: unknown, message?: unknown }} */ (frame.data ?? {});
    activity('fail', `Server error: ${text(e.code)}: ${text(e.message)}`);
  }
}

/**
 * Send a decision on the selected approval; the answer goes to the store and the activity log.
 * @param {string} action
 * @param {Record<string, unknown>} [edits]
 * @param {string} [reason]
 */
function decide(action, edits, reason) {
  const sel = selection(store.getSnapshot().context);
  if (!sel || sel.decided) return;
  const a = sel.approval;
  const data = {
    approval_id: a.approval_id,
    action,
    ...(edits ? { edits } : {}),
    ...(reason ? { reason } : {}),
    timestamp: new Date().toISOString(),
  };
  const sent = socket?.request('hitl_approval_response', data, (frame) => {
    const answer = readAnswer(action, describe(a), frame);
    activity(answer.success ? 'ok' : 'fail', answer.message);
    if (answer.success) forgetDraft(a.approval_id);
    reader.clear();
    store.trigger.decisionAnswered({
      approval_id: a.approval_id,
      success: answer.success,
      message: answer.message,
      at: new Date().toISOString(),
      ...(answer.code && GONE.includes(answer.code)
        ? { gone: `${answer.message}. Someone else decided it first, or it expired.` }
        : {}),
    });
  });
  if (!sent) {
    activity('fail', 'Not connected: wait for the connection to come back, then try again.');
    return;
  }
  store.trigger.decisionSent({
    approval_id: a.approval_id,
    action,
    at: new Date().toISOString(),
    ...(edits ? { edits } : {}),
  });
}

function showHistory() {
  store.trigger.viewed({ view: 'history' });
  reader.clear();
  byId('history-list').replaceChildren(
    historyList(reader, {
      me,
      now: Date.now(),
      open: (runId) => store.trigger.viewed({ view: 'history', run_id: runId }),
    }),
  );
}

// ---- the clock and start-up ---------------------------------------------------------------------

/** Keep countdowns and media-expiry notices current. */
function tick() {
  const now = Date.now();
  for (const span of document.querySelectorAll('[data-expires]'))
    updateCountdown(/** @type {HTMLElement} */ (span), now);
  for (const notice of document.querySelectorAll('[data-completed-at]')) {
    updateExpiryNotice(/** @type {HTMLElement} */ (notice), now);
  }
}

function start() {
  const render = createView({ store, reader, me: () => me, decide });
  store.subscribe(render);
  byId('sign-in-form').addEventListener('submit', (e) => void onSignIn(/** @type {SubmitEvent} */ (e)));
  byId('sign-out').addEventListener('click', () => signOut());
  byId('refresh').addEventListener('click', () => {
    if (socket?.isOpen()) listPending();
    else socket?.reconnectNow();
  });
  byId('tab-inbox').addEventListener('click', () => store.trigger.viewed({ view: 'inbox' }));
  byId('tab-history').addEventListener('click', showHistory);
  byId('history-refresh').addEventListener('click', showHistory);
  const value = (/** @type {string} */ id) => /** @type {HTMLInputElement} */ (byId(id)).value;
  byId('filter-checkpoint').addEventListener('change', () =>
    store.trigger.filtered({ checkpoint: value('filter-checkpoint') }),
  );
  byId('filter-user').addEventListener('input', () => store.trigger.filtered({ user: value('filter-user') }));
  byId('filter-session').addEventListener('input', () =>
    store.trigger.filtered({ session: value('filter-session') }),
  );
  byId('sort').addEventListener('change', () =>
    store.trigger.sorted({ sort: /** @type {import('./store.js').Sort} */ (value('sort')) }),
  );
  document.addEventListener('keydown', (e) => onKey(e, store, decide));
  setInterval(tick, 1000);
  render();
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) signIn(saved);
  else byId('token').focus();
}

start();
