// @ts-check
/**
 * The decision controls of one approval: a button per offered action (only those), an optional
 * reason, and a JSON editor for `edit`, checked before anything is sent.
 */
import { editTemplate, parseEdits } from './context.js';
import { h, text } from './dom.js';

/** @typedef {import('./context.js').Approval} Approval */
/** @typedef {import('./socket.js').Frame} Frame */
/** @typedef {{ success: boolean, code: string | null, message: string }} Answer */

const LABELS = /** @type {Record<string, string>} */ ({
  approve: 'Approve',
  edit: 'Edit…',
  reject: 'Reject',
  retry: 'Retry',
});

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

/**
 * @param {Approval} a
 * @param {object} deps
 * @param {string} deps.what the approval, described for messages
 * @param {(data: Record<string, unknown>, onReply: (frame: Frame) => void) => boolean} deps.send
 *   sends `hitl_approval_response` data; false when offline
 * @param {(action: string, answer: Answer) => void} deps.answered
 */
export function decisionForm(a, deps) {
  const reason = /** @type {HTMLTextAreaElement} */ (
    h('textarea', { id: 'reason', rows: '2', maxlength: '4000' })
  );
  const editor = /** @type {HTMLTextAreaElement} */ (
    h('textarea', {
      id: 'edits',
      rows: '12',
      spellcheck: 'false',
      'aria-describedby': 'edits-help edits-error',
    })
  );
  const editError = h('p', { id: 'edits-error', class: 'error', role: 'alert' });
  const status = h('p', { id: 'decision-status', role: 'status' });
  const buttons = a.actions.map((action) =>
    h(
      'button',
      { type: 'button', class: action === 'reject' ? 'danger' : undefined, 'data-action': action },
      LABELS[action] ?? action,
    ),
  );
  const sendEdit = h('button', { type: 'button' }, 'Send edit');
  const cancelEdit = h('button', { type: 'button', class: 'secondary' }, 'Cancel edit');
  const editBox = h(
    'div',
    { class: 'editor', hidden: true },
    h('label', { for: 'edits' }, 'Edits (JSON)'),
    h(
      'p',
      { id: 'edits-help', class: 'hint' },
      `The shape a ${a.checkpoint_type} edit takes, pre-filled with what is under review.`,
    ),
    editor,
    editError,
    h('div', { class: 'actions' }, sendEdit, cancelEdit),
  );
  /** @param {boolean} disabled */
  const disable = (disabled) => {
    for (const b of [...buttons, sendEdit, cancelEdit]) b.toggleAttribute('disabled', disabled);
  };

  /**
   * @param {string} action
   * @param {Record<string, unknown>} [edits]
   */
  function decide(action, edits) {
    const why = reason.value.trim();
    const data = {
      approval_id: a.approval_id,
      action,
      ...(edits ? { edits } : {}),
      ...(why ? { reason: why } : {}),
      timestamp: new Date().toISOString(),
    };
    const sent = deps.send(data, (frame) => {
      const answer = readAnswer(action, deps.what, frame);
      status.textContent = answer.message;
      if (!answer.success) disable(false);
      deps.answered(action, answer);
    });
    if (!sent) {
      status.textContent = 'Not connected: wait for the connection to come back, then try again.';
      return;
    }
    disable(true); // one decision at a time: no double click
    status.textContent = `Sending ${action}…`;
  }

  for (const button of buttons) {
    const action = button.dataset.action ?? '';
    button.addEventListener('click', () => {
      if (action !== 'edit') return decide(action);
      editor.value = JSON.stringify(editTemplate(a), null, 2);
      editError.textContent = '';
      editBox.hidden = false;
      editor.focus();
    });
  }
  sendEdit.addEventListener('click', () => {
    const parsed = parseEdits(a, editor.value);
    if ('problem' in parsed) {
      editError.textContent = parsed.problem;
      editor.focus();
      return;
    }
    editError.textContent = '';
    decide('edit', parsed.edits);
  });
  cancelEdit.addEventListener('click', () => {
    editBox.hidden = true;
    buttons.find((b) => b.dataset.action === 'edit')?.focus();
  });

  return h(
    'section',
    { class: 'decide', 'aria-labelledby': 'decide-title' },
    h('h3', { id: 'decide-title' }, 'Decision'),
    h('label', { for: 'reason' }, 'Reason (optional)'),
    reason,
    editBox,
    buttons.length
      ? h('div', { class: 'actions', role: 'group', 'aria-label': 'Actions' }, ...buttons)
      : h('p', { class: 'muted' }, 'No action is offered now.'),
    status,
  );
}
