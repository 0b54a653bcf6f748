// @ts-check
/**
 * Renders the console store's context into the page: connection, tabs, the inbox rows and the
 * detail pane (rebuilt only when what it shows changes, so an editor keeps its text).
 */
import { approvalDetail } from './detail.js';
import { age, byId, countdownView, h, money, shortId, snippet } from './dom.js';
import { runHistory } from './history.js';
import { checkpointTypes, selection, summaryOf, visibleApprovals } from './inbox.js';

/** @typedef {import('./context.js').Approval} Approval */
/**
 * @typedef {object} Deps
 * @property {import('./store.js').ConsoleStore} store
 * @property {import('./http.js').Reader} reader
 * @property {() => string | null} me this tab's actor
 * @property {(action: string, edits?: Record<string, unknown>, reason?: string) => void} decide
 */

/**
 * One inbox row: the prompt, then checkpoint · model · cost, then user · age · time left.
 * @param {Approval} a
 * @param {boolean} current
 * @param {number} now
 * @param {Deps} deps
 */
function rowView(a, current, now, deps) {
  const s = summaryOf(a);
  const button = h(
    'button',
    {
      type: 'button',
      class: 'approval-item',
      'data-approval-id': a.approval_id,
      'aria-current': current ? 'true' : undefined,
    },
    h('span', { class: 'line' }, snippet(s.prompt, 70) || '(no prompt)'),
    h(
      'span',
      { class: 'meta' },
      h('span', { class: `type ${a.checkpoint_type}` }, a.checkpoint_type),
      ` · ${s.model || 'model unknown'} · ${money(s.cost)}`,
    ),
    h(
      'span',
      { class: 'meta' },
      `user ${a.user_id ?? '—'}${a.session_id ? ` · ${a.session_id}` : ''} · ${age(a.created_at, now)} old · `,
      countdownView(a.expires_at),
    ),
  );
  button.addEventListener('click', () => deps.store.trigger.selected({ id: a.approval_id }));
  return h('li', {}, button);
}

/**
 * The page's renderer: call it after every store change.
 * @param {Deps} deps
 */
export function createView(deps) {
  const { store, reader } = deps;
  let detailKey = '';
  return function render() {
    const ctx = store.getSnapshot().context;
    const now = Date.now();
    const node = byId('connection');
    node.className = `connection ${ctx.connection.status}`;
    node.textContent = ctx.connection.message;

    byId('inbox').hidden = ctx.view !== 'inbox';
    byId('history').hidden = ctx.view !== 'history';
    byId('tab-inbox').setAttribute('aria-pressed', String(ctx.view === 'inbox'));
    byId('tab-history').setAttribute('aria-pressed', String(ctx.view === 'history'));

    // The inbox.
    const rows = visibleApprovals(ctx, now);
    const list = byId('pending-list');
    const focused = document.activeElement?.closest('[data-approval-id]')?.getAttribute('data-approval-id');
    list.replaceChildren(...rows.map((a) => rowView(a, a.approval_id === ctx.selectedId, now, deps)));
    const total = Object.keys(ctx.inbox).length;
    byId('pending-count').textContent = rows.length === total ? String(total) : `${rows.length} of ${total}`;
    byId('pending-empty').hidden = rows.length > 0;
    byId('pending-empty').textContent =
      total > 0 ? 'No pending approval matches the filters.' : 'No pending approvals.';
    const select = /** @type {HTMLSelectElement} */ (byId('filter-checkpoint'));
    const types = ['', ...new Set([...checkpointTypes(ctx), ctx.filters.checkpoint].filter(Boolean))];
    if ([...select.options].map((o) => o.value).join() !== types.join()) {
      select.replaceChildren(...types.map((t) => h('option', { value: t }, t || 'all')));
    }
    select.value = ctx.filters.checkpoint;
    const target = focused ?? (list.contains(document.activeElement) ? null : undefined);
    if (target)
      /** @type {HTMLElement | null} */ (
        list.querySelector(`[data-approval-id="${CSS.escape(target)}"]`)
      )?.focus();

    // The detail pane: rebuilt only when what it shows changes (an editor keeps its text).
    const sel = selection(ctx);
    const key = JSON.stringify([
      ctx.view,
      ctx.historyRunId,
      sel?.approval.approval_id,
      ctx.gone,
      ctx.editing,
      ctx.form?.approval_id,
      ctx.form?.mode,
      ctx.confirming,
      sel ? ctx.pending[sel.approval.approval_id]?.action : null,
      Boolean(sel?.decided),
    ]);
    if (key === detailKey) return;
    detailKey = key;
    const title = byId('detail-title');
    const body = byId('detail-body');
    if (ctx.view === 'history') {
      if (!ctx.historyRunId) {
        title.textContent = 'Run';
        body.replaceChildren(h('p', { class: 'muted' }, 'Select a decided approval or a finished run.'));
      } else {
        title.textContent = `Run ${shortId(ctx.historyRunId)}`;
        body.replaceChildren(runHistory(reader, ctx.historyRunId, deps.me()));
      }
      return;
    }
    if (!sel) {
      title.textContent = 'Approval';
      body.replaceChildren(h('p', { class: 'muted' }, 'Select an approval to see what it asks.'));
      return;
    }
    const a = sel.approval;
    title.textContent = `${a.checkpoint_type}${a.run_id ? ` · run ${shortId(a.run_id)}` : ''}`;
    body.replaceChildren(
      ...approvalDetail(
        {
          approval: a,
          decided: sel.decided,
          gone: ctx.gone,
          editing: ctx.editing,
          form: ctx.form,
          confirming: ctx.confirming,
          pending: ctx.pending[a.approval_id],
          me: deps.me(),
        },
        reader,
        {
          decide: deps.decide,
          startEdit: () => store.trigger.editStarted(),
          cancelEdit: () => store.trigger.editCancelled(),
          ask: (action) => store.trigger.confirmAsked({ action }),
          cancelAsk: () => store.trigger.confirmCancelled(),
          readForm: () => store.getSnapshot().context.form,
          fieldChanged: (field, input) => store.trigger.formFieldChanged({ field, input }),
          modeChanged: (mode, values) => store.trigger.formModeChanged(values ? { mode, values } : { mode }),
        },
      ),
    );
  };
}
