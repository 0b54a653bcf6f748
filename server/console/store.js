// @ts-check
/**
 * The console's state in one `@xstate/store` store: the inbox (pending approvals), the filters and
 * sort, the selection, the connection, decisions in flight and decided, the history view. Every
 * change is a named transition; the page only renders what the store holds, so the behaviour is
 * testable without a browser. `createStore` is passed in (the page loads it from `/console/`, tests
 * from the package).
 */

/** @typedef {import('./context.js').Approval} Approval */
import { formTransitions, startForm } from './form-store.js';
import { visibleApprovals } from './inbox.js';

/** @typedef {'signed-out' | 'connecting' | 'online' | 'offline'} ConnectionStatus */
/** @typedef {{ checkpoint: string, user: string, session: string }} Filters */
/** @typedef {'expires' | 'newest' | 'oldest' | 'cost'} Sort */
/** @typedef {{ action: string, edits?: Record<string, unknown>, sent_at: string }} PendingDecision */
/**
 * @typedef {object} Decided
 * @property {Approval} approval what was decided
 * @property {string} action
 * @property {Record<string, unknown> | undefined} edits
 * @property {string} message what the server answered
 * @property {string} decided_at
 */
/**
 * @typedef {object} ConsoleContext
 * @property {{ status: ConnectionStatus, message: string }} connection
 * @property {Record<string, Approval>} inbox pending approvals by id
 * @property {string[]} resolved ids known to be closed (a late list reply never brings them back)
 * @property {string | null} selectedId
 * @property {Approval | null} shown the selected approval as last seen (kept after it closes)
 * @property {string | null} gone why the selected approval is no longer pending
 * @property {Filters} filters
 * @property {Sort} sort
 * @property {Record<string, PendingDecision>} pending decisions sent, not yet answered
 * @property {Record<string, Decided>} decided by this tab
 * @property {'inbox' | 'history'} view
 * @property {string | null} historyRunId the run shown in the history view
 * @property {string | null} confirming an action waiting for confirmation (reject)
 * @property {boolean} editing
 * @property {import('./form-store.js').FormState | null} form the schema form of the edit in progress
 */

const MAX_RESOLVED = 5000;

/** @returns {ConsoleContext} */
export function initialContext() {
  return {
    connection: { status: 'signed-out', message: 'Signed out' },
    inbox: {},
    resolved: [],
    selectedId: null,
    shown: null,
    gone: null,
    filters: { checkpoint: '', user: '', session: '' },
    sort: 'expires',
    pending: {},
    decided: {},
    view: 'inbox',
    historyRunId: null,
    confirming: null,
    editing: false,
    form: null,
  };
}

/**
 * @param {Record<string, Approval>} inbox
 * @param {string} id
 */
function without(inbox, id) {
  const { [id]: _dropped, ...rest } = inbox;
  return rest;
}

/**
 * @param {string[]} resolved
 * @param {string} id
 */
function remember(resolved, id) {
  if (resolved.includes(id)) return resolved;
  return [...resolved, id].slice(-MAX_RESOLVED);
}

/**
 * An approval is no longer pending: out of the inbox, and the open detail says why.
 * @param {ConsoleContext} ctx
 * @param {string} id
 * @param {string} why
 * @returns {ConsoleContext}
 */
function close(ctx, id, why) {
  const selected = ctx.selectedId === id;
  return {
    ...ctx,
    inbox: without(ctx.inbox, id),
    resolved: remember(ctx.resolved, id),
    gone: selected && !ctx.gone ? why : ctx.gone,
    confirming: selected ? null : ctx.confirming,
    editing: selected ? false : ctx.editing,
  };
}

/** The store's transitions, by name (what `store.trigger.<name>(…)` does). */
export const transitions = {
  /** @returns {ConsoleContext} */
  signedIn: () => ({ ...initialContext(), connection: { status: 'connecting', message: 'Connecting…' } }),
  /** Nothing of this session stays for the next person on this tab. */
  signedOut: () => initialContext(),
  /**
   * @param {ConsoleContext} ctx
   * @param {{ status: ConnectionStatus, message: string }} e
   * @returns {ConsoleContext}
   */
  connectionChanged: (ctx, e) => ({ ...ctx, connection: { status: e.status, message: e.message } }),
  /**
   * A full answer to `hitl_list_pending` (every page): what is not listed was decided meanwhile.
   * @param {ConsoleContext} ctx
   * @param {{ approvals: Approval[], complete: boolean }} e
   * @returns {ConsoleContext}
   */
  listed: (ctx, e) => {
    /** @type {Record<string, Approval>} */
    const inbox = e.complete ? {} : { ...ctx.inbox };
    for (const a of e.approvals) {
      if (a.status === 'pending' && !ctx.resolved.includes(a.approval_id)) inbox[a.approval_id] = a;
    }
    const lost = ctx.selectedId && !inbox[ctx.selectedId] && !ctx.decided[ctx.selectedId];
    return {
      ...ctx,
      inbox,
      gone: lost && !ctx.gone ? 'This approval is no longer pending.' : ctx.gone,
    };
  },
  /**
   * `hitl_approval_request`: a checkpoint opened.
   * @param {ConsoleContext} ctx
   * @param {{ approval: Approval }} e
   * @returns {ConsoleContext}
   */
  requested: (ctx, e) => {
    const a = e.approval;
    if (a.status !== 'pending' || ctx.resolved.includes(a.approval_id)) return ctx;
    const shown = ctx.selectedId === a.approval_id ? a : ctx.shown;
    return { ...ctx, inbox: { ...ctx.inbox, [a.approval_id]: a }, shown };
  },
  /**
   * `hitl_approval_resolved`: decided (here or elsewhere), expired or cancelled.
   * @param {ConsoleContext} ctx
   * @param {{ approval_id: string, why: string }} e
   * @returns {ConsoleContext}
   */
  resolved: (ctx, e) => {
    if (ctx.decided[e.approval_id]) return ctx;
    // Our own decision may be announced before its answer comes: the answer settles it.
    if (ctx.pending[e.approval_id]) return { ...ctx, resolved: remember(ctx.resolved, e.approval_id) };
    return close(ctx, e.approval_id, e.why);
  },
  /**
   * @param {ConsoleContext} ctx
   * @param {{ id: string | null }} e
   * @returns {ConsoleContext}
   */
  selected: (ctx, e) => {
    const shown = e.id === null ? null : (ctx.inbox[e.id] ?? ctx.decided[e.id]?.approval ?? null);
    if (e.id !== null && !shown) return ctx;
    return { ...ctx, selectedId: e.id, shown, gone: null, confirming: null, editing: false, view: 'inbox' };
  },
  /**
   * j / k: the next or previous row of what is shown (filtered and sorted).
   * @param {ConsoleContext} ctx
   * @param {{ by: 1 | -1, now: number }} e
   * @returns {ConsoleContext}
   */
  moved: (ctx, e) => {
    const rows = visibleApprovals(ctx, e.now);
    if (rows.length === 0) return ctx;
    const at = rows.findIndex((a) => a.approval_id === ctx.selectedId);
    const next =
      at === -1 ? (e.by > 0 ? 0 : rows.length - 1) : Math.min(rows.length - 1, Math.max(0, at + e.by));
    const row = rows[next];
    if (!row || row.approval_id === ctx.selectedId) return ctx;
    return { ...ctx, selectedId: row.approval_id, shown: row, gone: null, confirming: null, editing: false };
  },
  /**
   * @param {ConsoleContext} ctx
   * @param {Partial<Filters>} e
   * @returns {ConsoleContext}
   */
  filtered: (ctx, e) => ({
    ...ctx,
    filters: {
      checkpoint: e.checkpoint ?? ctx.filters.checkpoint,
      user: e.user ?? ctx.filters.user,
      session: e.session ?? ctx.filters.session,
    },
  }),
  /**
   * @param {ConsoleContext} ctx
   * @param {{ sort: Sort }} e
   * @returns {ConsoleContext}
   */
  sorted: (ctx, e) => ({ ...ctx, sort: e.sort }),
  /**
   * @param {ConsoleContext} ctx
   * @returns {ConsoleContext}
   */
  editStarted: (ctx) => ({ ...ctx, editing: true, confirming: null, form: startForm(ctx.shown) }),
  /**
   * @param {ConsoleContext} ctx
   * @returns {ConsoleContext}
   */
  editCancelled: (ctx) => ({ ...ctx, editing: false, form: null }),
  ...formTransitions,
  /**
   * An action that ends the run waits for a second click.
   * @param {ConsoleContext} ctx
   * @param {{ action: string }} e
   * @returns {ConsoleContext}
   */
  confirmAsked: (ctx, e) => ({ ...ctx, confirming: e.action, editing: false }),
  /**
   * @param {ConsoleContext} ctx
   * @returns {ConsoleContext}
   */
  confirmCancelled: (ctx) => ({ ...ctx, confirming: null }),
  /**
   * A decision went out; one at a time per approval.
   * @param {ConsoleContext} ctx
   * @param {{ approval_id: string, action: string, edits?: Record<string, unknown>, at: string }} e
   * @returns {ConsoleContext}
   */
  decisionSent: (ctx, e) => {
    if (ctx.pending[e.approval_id]) return ctx;
    /** @type {PendingDecision} */
    const decision = { action: e.action, sent_at: e.at, ...(e.edits ? { edits: e.edits } : {}) };
    return { ...ctx, confirming: null, pending: { ...ctx.pending, [e.approval_id]: decision } };
  },
  /**
   * The server's answer to a decision: on success the approval leaves the inbox and stays
   * selectable as decided (with what was sent); on failure it may be decided again, unless it is
   * gone (`gone` says why).
   * @param {ConsoleContext} ctx
   * @param {{ approval_id: string, success: boolean, message: string, gone?: string, at: string }} e
   * @returns {ConsoleContext}
   */
  decisionAnswered: (ctx, e) => {
    const sent = ctx.pending[e.approval_id];
    if (!sent) return ctx;
    const { [e.approval_id]: _done, ...pending } = ctx.pending;
    const approval =
      ctx.inbox[e.approval_id] ?? (ctx.shown?.approval_id === e.approval_id ? ctx.shown : undefined);
    if (e.success && approval) {
      /** @type {Decided} */
      const decided = {
        approval,
        action: sent.action,
        edits: sent.edits,
        message: e.message,
        decided_at: e.at,
      };
      return {
        ...ctx,
        pending,
        inbox: without(ctx.inbox, e.approval_id),
        resolved: remember(ctx.resolved, e.approval_id),
        decided: { ...ctx.decided, [e.approval_id]: decided },
        editing: false,
      };
    }
    if (e.gone) return close({ ...ctx, pending }, e.approval_id, e.gone);
    return { ...ctx, pending };
  },
  /**
   * @param {ConsoleContext} ctx
   * @param {{ view: 'inbox' | 'history', run_id?: string | null }} e
   * @returns {ConsoleContext}
   */
  viewed: (ctx, e) => ({
    ...ctx,
    view: e.view,
    historyRunId: e.run_id === undefined ? ctx.historyRunId : e.run_id,
    confirming: null,
    editing: false,
  }),
};

/**
 * @param {typeof import('@xstate/store').createStore} createStore
 */
export function createConsoleStore(createStore) {
  return createStore({ context: initialContext(), on: transitions });
}

/** @typedef {ReturnType<typeof createConsoleStore>} ConsoleStore */
