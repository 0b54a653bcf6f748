// @ts-check
/**
 * The approval pane: what is asked, the original input beside the payload that will be sent
 * (issues beside their fields), where the run is in its statechart, and the decision — or, once
 * decided, what was decided and the payload that went out.
 */
import { changedFields, contextView } from './context.js';
import { decisionForm } from './decide.js';
import { mergedPayload } from './diff.js';
import { asObject, countdownView, facts, formatTime, h, json, money, shortId, snippet, text } from './dom.js';
import { originalInputTable, payloadTable } from './fields.js';
import { summaryOf } from './inbox.js';
import { statechartView } from './statechart.js';

/** @typedef {import('./context.js').Approval} Approval */
/** @typedef {import('./store.js').Decided} Decided */
/** @typedef {import('./http.js').Reader} Reader */

/**
 * A section filled when its data arrives (the run view, the machine outline).
 * @param {string} label
 * @param {Promise<HTMLElement | SVGElement | null>} content
 */
function later(label, content) {
  const box = h(
    'div',
    { class: 'later', 'aria-busy': 'true' },
    h('p', { class: 'muted' }, `Loading ${label}…`),
  );
  void content.then((node) => {
    box.removeAttribute('aria-busy');
    box.replaceChildren(...(node ? [node] : []));
  });
  return box;
}

/**
 * The run's statechart, current state highlighted.
 * @param {Reader} reader
 * @param {string} runId
 */
export function runStatechart(reader, runId) {
  return later(
    'the statechart',
    Promise.all([reader.get('/console/run-machine.json', 60_000), reader.get(`/hitl/runs/${runId}`)]).then(
      ([machine, view]) => {
        if (!machine.ok || !view.ok) return h('p', { class: 'muted' }, 'The statechart is not available.');
        return h(
          'figure',
          { class: 'chart' },
          statechartView(machine.data, view.data),
          h(
            'figcaption',
            { class: 'muted' },
            `Now: ${text(view.data.status)} at ${text(view.data.current_step)}`,
          ),
        );
      },
    ),
  );
}

/**
 * @param {Approval} a
 * @param {Reader} reader
 * @param {boolean} decided once decided, the payload shown is the one that was reviewed
 */
function payloadSection(a, reader, decided) {
  const title = decided ? 'Payload as reviewed' : 'Payload to send';
  const ctx = a.context ?? {};
  const original = a.run_id
    ? later(
        'the original input',
        reader
          .get(`/hitl/runs/${a.run_id}`)
          .then((view) =>
            view.ok ? originalInputTable(view.data.original_input) : h('p', { class: 'muted' }, view.message),
          ),
      )
    : h('p', { class: 'muted' }, 'No run.');
  return h(
    'div',
    { class: 'side-by-side' },
    h(
      'section',
      { 'aria-labelledby': 'original-title' },
      h('h3', { id: 'original-title' }, 'Original input'),
      original,
    ),
    h(
      'section',
      { 'aria-labelledby': 'payload-title' },
      h('h3', { id: 'payload-title' }, title),
      payloadTable(ctx.payload, ctx.issues, title),
    ),
  );
}

/**
 * What this tab decided, and what went out with it.
 * @param {Decided} d
 */
function decidedView(d) {
  const ctx = d.approval.context ?? {};
  const before = asObject(ctx.payload);
  const editedPayload = asObject(d.edits?.payload);
  /** @type {HTMLElement | null} */
  let sent = null;
  if (editedPayload && before)
    sent = payloadTable(mergedPayload(before, editedPayload), [], 'Decided payload');
  else if (d.edits) sent = json(d.edits, 'Decided edits');
  else if (d.action === 'approve' && before) sent = payloadTable(before, [], 'Decided payload');
  return h(
    'section',
    { class: 'decided', 'aria-labelledby': 'decided-title' },
    h('h3', { id: 'decided-title' }, `Decided: ${d.action}`),
    h('p', {}, `By you at ${formatTime(d.decided_at)}. ${d.message}.`),
    sent ? h('h4', {}, d.action === 'reject' ? 'Nothing was sent' : 'Payload sent') : null,
    d.action === 'reject' ? null : sent,
  );
}

/**
 * @param {object} view
 * @param {Approval} view.approval
 * @param {Decided | null} view.decided
 * @param {string | null} view.gone
 * @param {boolean} view.editing
 * @param {import('./form-store.js').FormState | null} [view.form]
 * @param {string | null} view.confirming
 * @param {{ action: string } | undefined} view.pending
 * @param {string | null} view.me
 * @param {Reader} reader
 * @param {Parameters<typeof decisionForm>[2]} deps
 */
export function approvalDetail(view, reader, deps) {
  const a = view.approval;
  const ctx = a.context ?? {};
  const summary = summaryOf(a);
  const reviewers = /** @type {{ user_ids?: unknown[], roles?: unknown[] } | null} */ (a.reviewers);
  const who = [
    ...(reviewers?.user_ids ?? []).map((u) => `user ${text(u)}`),
    ...(reviewers?.roles ?? []).map((r) => `role ${text(r)}`),
  ];
  const payloadish = a.checkpoint_type === 'payload_review' || a.checkpoint_type === 'error_recovery';
  const closing = view.decided
    ? decidedView(view.decided)
    : view.gone
      ? h('p', { class: 'notice', role: 'status' }, view.gone)
      : decisionForm(a, view, deps);
  return [
    summary.prompt ? h('p', { class: 'lede' }, snippet(summary.prompt, 200)) : null,
    facts([
      ['Run', a.run_id ? shortId(a.run_id) : 'standalone approval'],
      ['User', a.user_id ?? ''],
      ['Session', a.session_id ?? ''],
      ['Model', summary.model],
      ['Estimated cost', money(summary.cost)],
      ['Changed fields', a.checkpoint_type === 'payload_review' ? changedFields(ctx.changed_fields) : ''],
      ['Created', formatTime(a.created_at)],
      [
        'Expires',
        view.decided || view.gone
          ? ''
          : h('span', {}, formatTime(a.expires_at), ' (', countdownView(a.expires_at), ')'),
      ],
      ['Reviewers', who.join(', ')],
    ]),
    ...(a.checkpoint_type === 'payload_review' ? [] : contextView(a)),
    payloadish ? payloadSection(a, reader, Boolean(view.decided)) : null,
    closing,
    a.run_id
      ? h(
          'details',
          { class: 'chart-box', open: true },
          h('summary', {}, 'Where the run is'),
          runStatechart(reader, a.run_id),
        )
      : null,
  ].filter((n) => n !== null);
}
