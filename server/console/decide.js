// @ts-check
/**
 * The decision controls of one approval: a button per offered action (only those), an optional
 * reason, an editor whose field-level diff shows before anything is sent, and a confirmation
 * before a reject (it ends the run). What is typed survives re-renders (drafts by approval).
 */
import { editTemplate, parseEdits } from './context.js';
import { fieldDiff, mergedPayload } from './diff.js';
import { asObject, h, text } from './dom.js';
import { diffTable } from './fields.js';
import { formEditor } from './form-view.js';

/** @typedef {import('./context.js').Approval} Approval */
/** @typedef {import('./socket.js').Frame} Frame */
/** @typedef {{ success: boolean, code: string | null, message: string }} Answer */

const LABELS = /** @type {Record<string, string>} */ ({
  approve: 'Approve',
  edit: 'Edit…',
  reject: 'Reject…',
  retry: 'Retry',
});
const KEYS = /** @type {Record<string, string>} */ ({ approve: 'a', edit: 'e', reject: 'r' });

/** Editor and reason text by approval id, kept while the page lives. */
const drafts = new Map();
/** @type {Map<string, string>} */
const reasons = new Map();

/**
 * What a `hitl_approval_response_ack` (or an error frame in its place) says, in words.
 * @param {string} action
 * @param {string} what the approval, described
 * @param {Frame} frame
 * @returns {Answer}
 */
export function readAnswer(action, what, frame) {
  const ack =
    /** @type {{ success?: unknown, status?: unknown, current_step?: unknown, error?: unknown }} */ (
      frame.type === 'hitl_approval_response_ack' ? (frame.data ?? {}) : { success: false, error: frame.data }
    );
  if (ack.success === true) {
    const run = ack.current_step ? ` — run now ${text(ack.status)} (${text(ack.current_step)})` : '';
    return { success: true, code: null, message: `${action} on ${what}: success${run}` };
  }
  const error = /** @type {{ code?: unknown, message?: unknown }} */ (ack.error ?? {});
  return {
    success: false,
    code: error.code === undefined ? null : text(error.code),
    message: `${action} on ${what} failed — ${text(error.code)}: ${text(error.message)}`,
  };
}

/** @param {Approval} a */
function editsPayload(a) {
  return a.checkpoint_type === 'payload_review' || a.checkpoint_type === 'error_recovery';
}

/**
 * The text the editor starts with: the payload itself at payload checkpoints, else the edits.
 * @param {Approval} a
 */
function startText(a) {
  const template = editTemplate(a);
  return JSON.stringify(editsPayload(a) ? (template.payload ?? {}) : template, null, 2);
}

/**
 * The edits the editor's text stands for, the diff they make, or why they cannot be sent.
 * @param {Approval} a
 * @param {string} source
 */
export function readEditor(a, source) {
  if (editsPayload(a)) {
    const before = asObject(a.context?.payload) ?? {};
    let value;
    try {
      value = JSON.parse(source);
    } catch (err) {
      return { problem: `Not valid JSON: ${err instanceof Error ? err.message : String(err)}`, changes: [] };
    }
    const payload = asObject(value);
    if (!payload) return { problem: 'The payload must be a JSON object.', changes: [] };
    const changes = fieldDiff(before, mergedPayload(before, payload));
    return {
      edits: { payload },
      changes,
      removed: Object.keys(before).filter((k) => !Object.hasOwn(payload, k)),
    };
  }
  const parsed = parseEdits(a, source);
  if ('problem' in parsed) return { problem: parsed.problem, changes: [] };
  return {
    edits: parsed.edits,
    changes: fieldDiff(editTemplate(a), { ...editTemplate(a), ...parsed.edits }),
  };
}

/**
 * @param {Approval} a
 * @param {object} state
 * @param {boolean} state.editing
 * @param {string | null} state.confirming
 * @param {{ action: string } | undefined} state.pending
 * @param {import('./form-store.js').FormState | null} [state.form] the schema form, when the payload has a schema
 * @param {object} deps
 * @param {(action: string, edits?: Record<string, unknown>, reason?: string) => void} deps.decide
 * @param {() => void} deps.startEdit
 * @param {() => void} deps.cancelEdit
 * @param {(action: string) => void} deps.ask
 * @param {() => void} deps.cancelAsk
 * @param {() => import('./form-store.js').FormState | null} deps.readForm
 * @param {(field: string, input: string | boolean) => void} deps.fieldChanged
 * @param {(mode: 'form' | 'json', values?: Record<string, unknown>) => void} deps.modeChanged
 */
export function decisionForm(a, state, deps) {
  const id = a.approval_id;
  const reason = /** @type {HTMLTextAreaElement} */ (
    h('textarea', { id: 'reason', rows: '2', maxlength: '4000' })
  );
  reason.value = reasons.get(id) ?? '';
  reason.addEventListener('input', () => reasons.set(id, reason.value));
  const why = () => reason.value.trim() || undefined;
  const status = h(
    'p',
    { id: 'decision-status', role: 'status' },
    state.pending ? `Sending ${state.pending.action}…` : '',
  );
  const busy = Boolean(state.pending);

  /** @type {HTMLElement} */
  let body;
  if (state.editing && state.form?.approval_id === id && state.form.mode === 'form') {
    body = formEditor(a, {
      busy,
      read: deps.readForm,
      changed: deps.fieldChanged,
      send: (edits) => deps.decide('edit', edits, why()),
      asJson: () => {
        drafts.set(id, JSON.stringify(deps.readForm()?.values ?? {}, null, 2));
        deps.modeChanged('json');
      },
      cancel: () => {
        drafts.delete(id);
        deps.cancelEdit();
      },
    });
  } else if (state.editing) {
    const editor = /** @type {HTMLTextAreaElement} */ (
      h('textarea', {
        id: 'edits',
        rows: '8',
        spellcheck: 'false',
        'aria-describedby': 'edits-help edits-error',
      })
    );
    editor.value = drafts.get(id) ?? startText(a);
    const error = h('p', { id: 'edits-error', class: 'error', role: 'alert' });
    const diffBox = h('div', { class: 'diff-box', 'aria-live': 'polite' });
    const send = h('button', { type: 'button', disabled: busy }, 'Send edit');
    const cancel = h('button', { type: 'button', class: 'secondary', disabled: busy }, 'Cancel edit');
    const toForm =
      state.form?.approval_id === id
        ? h('button', { type: 'button', class: 'secondary', disabled: busy }, 'Back to the form')
        : null;
    toForm?.addEventListener('click', () => {
      const read = readEditor(a, editor.value);
      if (read.problem || !read.edits) {
        error.textContent = read.problem ?? '';
        return;
      }
      deps.modeChanged('form', /** @type {Record<string, unknown>} */ (read.edits.payload));
    });
    const refresh = () => {
      drafts.set(id, editor.value);
      const read = readEditor(a, editor.value);
      error.textContent = read.problem ?? '';
      const note =
        read.removed && read.removed.length > 0
          ? h(
              'p',
              { class: 'hint' },
              `Left out: ${read.removed.join(', ')}. An edit is merged into the payload, so these keep their values.`,
            )
          : null;
      diffBox.replaceChildren(
        ...[h('h4', {}, 'Changes before sending'), diffTable(read.changes), note].filter((n) => n !== null),
      );
      send.toggleAttribute('disabled', busy || Boolean(read.problem) || read.changes.length === 0);
    };
    editor.addEventListener('input', refresh);
    refresh();
    send.addEventListener('click', () => {
      const read = readEditor(a, editor.value);
      if (read.problem || !read.edits) return;
      deps.decide('edit', read.edits, why());
    });
    cancel.addEventListener('click', () => {
      drafts.delete(id);
      deps.cancelEdit();
    });
    const label = editsPayload(a) ? 'Payload to send (JSON)' : 'Edits (JSON)';
    body = h(
      'div',
      { class: 'editor' },
      h('label', { for: 'edits' }, label),
      h(
        'p',
        { id: 'edits-help', class: 'hint' },
        editsPayload(a)
          ? 'Change the fields to send; the changes are listed below before anything is sent.'
          : `The shape a ${a.checkpoint_type} edit takes, pre-filled with what is under review.`,
      ),
      editor,
      error,
      diffBox,
      h('div', { class: 'actions', role: 'group', 'aria-label': 'Edit actions' }, send, toForm, cancel),
    );
  } else if (state.confirming) {
    const action = state.confirming;
    const yes = h(
      'button',
      { type: 'button', class: 'danger', disabled: busy },
      a.run_id ? 'Reject and end the run' : 'Reject',
    );
    const no = h('button', { type: 'button', class: 'secondary', disabled: busy }, 'Keep reviewing');
    yes.addEventListener('click', () => deps.decide(action, undefined, why()));
    no.addEventListener('click', () => deps.cancelAsk());
    body = h(
      'div',
      { class: 'confirm' },
      h(
        'p',
        { id: 'confirm-text', role: 'alert' },
        a.run_id
          ? 'Reject ends this run: it is cancelled and nothing more is sent to the model. Reject?'
          : 'Reject this request?',
      ),
      h('div', { class: 'actions' }, yes, no),
    );
    queueMicrotask(() => no.focus());
  } else {
    const buttons = a.actions.map((action) => {
      const b = h(
        'button',
        {
          type: 'button',
          class: action === 'reject' ? 'danger' : action === 'approve' ? 'primary' : undefined,
          'data-action': action,
          'aria-keyshortcuts': KEYS[action],
          disabled: busy,
        },
        LABELS[action] ?? action,
      );
      b.addEventListener('click', () => {
        if (action === 'edit') deps.startEdit();
        else if (action === 'reject') deps.ask('reject');
        else deps.decide(action, undefined, why());
      });
      return b;
    });
    body = buttons.length
      ? h('div', { class: 'actions', role: 'group', 'aria-label': 'Actions' }, ...buttons)
      : h('p', { class: 'muted' }, 'No action is offered now.');
  }

  return h(
    'section',
    { class: 'decide', 'aria-labelledby': 'decide-title' },
    h('h3', { id: 'decide-title' }, 'Decision'),
    h('label', { for: 'reason' }, 'Reason (optional)'),
    reason,
    body,
    status,
  );
}

/** Forget what was typed for an approval (after it is decided). @param {string} id */
export function forgetDraft(id) {
  drafts.delete(id);
  reasons.delete(id);
}
