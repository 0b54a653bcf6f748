// @ts-check
/** The console's keyboard shortcuts. */
import { byId } from './dom.js';
import { selection } from './inbox.js';

/**
 * j / k move through the inbox; a approves, e edits, r asks to reject (never while typing).
 * @param {KeyboardEvent} e
 * @param {import('./store.js').ConsoleStore} store
 * @param {(action: string) => void} decide
 */
export function onKey(e, store, decide) {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const t = /** @type {HTMLElement | null} */ (e.target);
  if (t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName))) return;
  const ctx = store.getSnapshot().context;
  if (byId('workspace').hidden || ctx.view !== 'inbox') return;
  if (e.key === 'j' || e.key === 'k') {
    store.trigger.moved({ by: e.key === 'j' ? 1 : -1, now: Date.now() });
    /** @type {HTMLElement | null} */ (
      document.querySelector('#pending-list [aria-current="true"]')
    )?.focus();
    e.preventDefault();
    return;
  }
  const sel = selection(ctx);
  if (!sel || sel.decided || ctx.gone || ctx.pending[sel.approval.approval_id]) return;
  const offered = sel.approval.actions;
  if (e.key === 'a' && offered.includes('approve')) decide('approve');
  else if (e.key === 'e' && offered.includes('edit')) {
    store.trigger.editStarted();
    /** @type {HTMLElement | null} */ (document.getElementById('edits'))?.focus();
  } else if (e.key === 'r' && offered.includes('reject')) store.trigger.confirmAsked({ action: 'reject' });
  else return;
  e.preventDefault();
}
