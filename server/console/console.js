// @ts-check
/**
 * hitl-runs review console: sign in with a token, list pending approvals over the WebSocket
 * (SPEC §4), look at one, decide it. The token lives in this tab's sessionStorage only; it goes to
 * this server alone and is never shown, logged or put in the address bar.
 */
import { contextView } from './context.js';
import { decisionForm } from './decide.js';
import { byId, countdownView, facts, formatTime, h, shortId, text, updateCountdown } from './dom.js';
import { updateExpiryNotice } from './media.js';
import { checkToken, createSocket } from './socket.js';

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

const state = {
  /** @type {import('./socket.js').Socket | null} */
  socket: null,
  /** Pending approvals by id. @type {Map<string, Approval>} */
  approvals: new Map(),
  /** Ids seen resolved: a list reply read before the resolution never brings them back. */
  resolved: new Set(),
  /** @type {Approval | null} */
  selected: null,
  /** Why the selected approval is no longer pending, once it is not. @type {string | null} */
  selectedGone: null,
};

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

/**
 * @param {string} status
 * @param {string} message
 */
function setConnection(status, message) {
  const node = byId('connection');
  node.className = `connection ${status}`;
  node.textContent = message;
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
 */
function whoami(token) {
  const parts = token.split('.');
  if (parts.length !== 3) return 'Signed in with a service key';
  try {
    const claims = JSON.parse(atob((parts[1] ?? '').replace(/-/g, '+').replace(/_/g, '/')));
    const roles = Array.isArray(claims.roles) ? ` (${claims.roles.map(text).join(', ')})` : '';
    return `Signed in as reviewer ${text(claims.sub)}${roles}`;
  } catch {
    return 'Signed in as a reviewer';
  }
}

/** @param {string} token */
function signIn(token) {
  byId('sign-in').hidden = true;
  byId('workspace').hidden = false;
  byId('sign-out').hidden = false;
  const who = byId('whoami');
  who.textContent = whoami(token);
  who.hidden = false;
  state.socket = createSocket({
    token,
    onOpen: listPending, // nothing is pushed on connect: ask, after every (re)connect
    onPush,
    onStatus: setConnection,
    onRefused: () => signOut('The server no longer accepts this token; sign in again.'),
  });
}

/** @param {string} [message] why, shown on the sign-in form */
function signOut(message = '') {
  sessionStorage.removeItem(TOKEN_KEY);
  state.socket?.close();
  state.socket = null;
  state.approvals.clear();
  state.resolved.clear();
  state.selected = null;
  // The next person to sign in on this tab sees nothing of this session.
  byId('activity').replaceChildren();
  renderList();
  renderDetail();
  byId('workspace').hidden = true;
  byId('sign-out').hidden = true;
  byId('whoami').hidden = true;
  byId('sign-in').hidden = false;
  byId('sign-in-error').textContent = message;
  setConnection('signed-out', 'Signed out');
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

// ---- pending approvals --------------------------------------------------------------------------

/** Ask for every pending approval, page by page; what is no longer listed was decided meanwhile. */
function listPending() {
  const before = new Set(state.approvals.keys());
  const listed = new Set();
  let pages = 0;
  /** @param {string | null} cursor */
  const page = (cursor) =>
    state.socket?.request(
      'hitl_list_pending',
      { limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) },
      (frame) => {
        if (frame.type !== 'hitl_pending_approvals') {
          const e = /** @type {{ code?: unknown, message?: unknown }} */ (frame.data ?? {});
          activity('fail', `Could not list pending approvals: ${text(e.code)}: ${text(e.message)}`);
          return;
        }
        const data = /** @type {{ approvals: Approval[], next_cursor: string | null }} */ (frame.data);
        for (const a of data.approvals) {
          listed.add(a.approval_id);
          keep(a);
        }
        pages += 1;
        if (data.next_cursor && pages < MAX_PAGES) {
          page(data.next_cursor);
          return;
        }
        if (!data.next_cursor) for (const id of before) if (!listed.has(id)) state.approvals.delete(id);
        renderList();
        if (state.selected && !state.approvals.has(state.selected.approval_id)) {
          gone(state.selected.approval_id, 'This approval is no longer pending.');
        }
      },
    );
  page(null);
}

/** @param {Approval} a */
function keep(a) {
  if (a.status === 'pending' && !state.resolved.has(a.approval_id)) state.approvals.set(a.approval_id, a);
}

/**
 * An approval is no longer pending: out of the list, and the detail says why if it is open.
 * @param {string} id
 * @param {string} why
 */
function gone(id, why) {
  state.resolved.add(id);
  state.approvals.delete(id);
  renderList();
  if (state.selected?.approval_id === id && !state.selectedGone) {
    state.selectedGone = why;
    renderDetail();
  }
}

/** @param {Frame} frame a frame that answers no request */
function onPush(frame) {
  if (frame.type === 'hitl_approval_request') {
    const a = /** @type {Approval} */ (frame.data);
    if (typeof a?.approval_id !== 'string') return;
    keep(a);
    renderList();
    activity('info', `New approval: ${describe(a)}`);
  } else if (frame.type === 'hitl_approval_resolved') {
    const d = /** @type {{ approval_id?: unknown, action?: unknown, actor?: unknown }} */ (frame.data ?? {});
    const id = String(d.approval_id);
    const known = state.approvals.get(id) ?? (state.selected?.approval_id === id ? state.selected : null);
    const verb = VERBS[String(d.action)] ?? text(d.action);
    const by = d.actor ? ` by ${text(d.actor)}` : '';
    if (known) activity('info', `${describe(known)} was ${verb}${by}`);
    gone(id, `This approval was ${verb}${by}.`);
  } else if (frame.type === 'error') {
    const e = /** @type {{ code?: unknown, message?: unknown }} */ (frame.data ?? {});
    activity('fail', `Server error: ${text(e.code)}: ${text(e.message)}`);
  }
}

/** @param {Approval} a */
function itemView(a) {
  const button = h(
    'button',
    {
      type: 'button',
      class: 'approval-item',
      'data-approval-id': a.approval_id,
      'aria-current': state.selected?.approval_id === a.approval_id ? 'true' : undefined,
    },
    h('span', { class: 'type' }, a.checkpoint_type),
    h(
      'span',
      { class: 'meta' },
      a.run_id ? `run ${shortId(a.run_id)}` : 'standalone',
      ` · user ${a.user_id ?? '—'}`,
    ),
    h('span', { class: 'meta' }, `created ${formatTime(a.created_at)} · `, countdownView(a.expires_at)),
  );
  button.addEventListener('click', () => select(a.approval_id));
  return h('li', {}, button);
}

function renderList() {
  const list = byId('pending-list');
  const focused = document.activeElement?.closest('[data-approval-id]')?.getAttribute('data-approval-id');
  const items = [...state.approvals.values()].sort(
    (x, y) => Date.parse(x.expires_at) - Date.parse(y.expires_at),
  );
  list.replaceChildren(...items.map(itemView));
  byId('pending-count').textContent = String(items.length);
  byId('pending-empty').hidden = items.length > 0;
  if (focused) {
    /** @type {HTMLElement | null} */ (
      list.querySelector(`[data-approval-id="${CSS.escape(focused)}"]`)
    )?.focus();
  }
}

/** @param {string} id */
function select(id) {
  const a = state.approvals.get(id);
  if (!a) return;
  state.selected = a;
  state.selectedGone = null;
  renderList();
  renderDetail();
}

// ---- one approval -------------------------------------------------------------------------------

/** @param {Approval} a */
function decide(a) {
  const what = describe(a);
  return decisionForm(a, {
    what,
    send: (data, onReply) => state.socket?.request('hitl_approval_response', data, onReply) ?? false,
    answered(action, answer) {
      activity(answer.success ? 'ok' : 'fail', answer.message);
      if (answer.success)
        gone(a.approval_id, `You ${VERBS[action] ?? action} this approval: ${answer.message}.`);
      else if (answer.code && GONE.includes(answer.code)) {
        gone(a.approval_id, `${answer.message}. Someone else decided it first, or it expired.`);
      }
    },
  });
}

function renderDetail() {
  const body = byId('detail-body');
  const a = state.selected;
  if (!a) {
    byId('detail-title').textContent = 'Approval';
    body.replaceChildren(h('p', { class: 'muted' }, 'Select an approval to see what it asks.'));
    return;
  }
  byId('detail-title').textContent = `${a.checkpoint_type}${a.run_id ? ` · run ${shortId(a.run_id)}` : ''}`;
  const reviewers = /** @type {{ user_ids?: unknown[], roles?: unknown[] } | null} */ (a.reviewers);
  const who = [
    ...(reviewers?.user_ids ?? []).map((u) => `user ${text(u)}`),
    ...(reviewers?.roles ?? []).map((r) => `role ${text(r)}`),
  ];
  body.replaceChildren(
    facts([
      ['Run', a.run_id ?? 'standalone approval'],
      ['Approval', a.approval_id],
      ['User', a.user_id ?? ''],
      ['Session', a.session_id ?? ''],
      ['Created', formatTime(a.created_at)],
      ['Expires', h('span', {}, formatTime(a.expires_at), ' (', countdownView(a.expires_at), ')')],
      ['Reviewers', who.join(', ')],
    ]),
    ...contextView(a).filter((n) => n !== null),
    state.selectedGone ? h('p', { class: 'notice', role: 'status' }, state.selectedGone) : decide(a),
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
  byId('sign-in-form').addEventListener('submit', (e) => void onSignIn(/** @type {SubmitEvent} */ (e)));
  byId('sign-out').addEventListener('click', () => signOut());
  byId('refresh').addEventListener('click', () => {
    if (state.socket?.isOpen()) listPending();
    else state.socket?.reconnectNow();
  });
  setInterval(tick, 1000);
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) signIn(saved);
  else byId('token').focus();
}

start();
