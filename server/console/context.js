// @ts-check
/**
 * What the reviewer must judge at each checkpoint (SPEC §2.4 `context`), and the shape of an edit
 * there (SPEC §2.2).
 */
import { asObject, facts, formatTime, h, json, text } from './dom.js';
import { expiryNotice, outputView } from './media.js';

/**
 * @typedef {object} Approval
 * @property {string} approval_id
 * @property {string | null} run_id
 * @property {string} checkpoint_type
 * @property {Record<string, unknown>} context
 * @property {string[]} actions
 * @property {string | null} user_id
 * @property {string | null} session_id
 * @property {unknown} reviewers
 * @property {string} created_at
 * @property {string} expires_at
 * @property {string} status
 */

/**
 * @param {unknown} value
 */
function cost(value) {
  return typeof value === 'number' ? `$${value.toFixed(4)}` : 'unknown';
}

/**
 * How many fields differ from the model's example input (a count; older servers sent a list).
 * @param {unknown} value
 */
export function changedFields(value) {
  if (typeof value === 'number') return value === 0 ? 'none' : String(value);
  if (Array.isArray(value)) return value.length ? `${value.length} (${value.map(text).join(', ')})` : 'none';
  return '';
}

/**
 * @param {unknown} value a number in [0, 1]
 */
function percent(value) {
  return typeof value === 'number' ? `${Math.round(value * 100)} %` : '';
}

/**
 * Signals `{ name: 0 | 1 | boolean }` as a ✓ / ✗ list.
 * @param {unknown} signals
 */
function signalsView(signals) {
  const entries = Object.entries(asObject(signals) ?? {});
  if (entries.length === 0) return null;
  return h(
    'ul',
    { class: 'signals' },
    ...entries.map(([name, v]) => h('li', {}, v ? '✓ ' : '✗ ', name.replaceAll('_', ' '))),
  );
}

/**
 * The model's schema summary at information_review: required fields, media fields, where the
 * prompt and each attachment will go, what each field takes.
 * @param {unknown} raw `capabilities.schema_summary`
 * @param {string[]} attachments the run's attachments
 */
export function schemaSummaryView(raw, attachments) {
  const s = asObject(raw);
  if (!s) return [];
  const list = (/** @type {unknown} */ v) => (Array.isArray(v) && v.length ? v.map(text).join(', ') : 'none');
  const places = (Array.isArray(s.attachments) ? s.attachments : []).map((x) => {
    const at = asObject(x) ?? {};
    const index = typeof at.index === 'number' ? at.index : -1;
    const what =
      at.from === 'prompt'
        ? `URL ${index + 1} in the prompt`
        : (attachments[index] ?? `attachment ${index + 1}`);
    return h('li', {}, what, ' → ', at.field ? h('code', {}, text(at.field)) : 'no field (not sent)');
  });
  const constraints = Object.entries(asObject(s.constraints) ?? {});
  return [
    h('h3', {}, "The model's inputs"),
    h(
      'div',
      { id: 'schema-summary' },
      facts([
        ['Schema from', text(s.source)],
        ['Required fields', list(s.required)],
        ['Media fields', list(s.media_fields)],
        ['Prompt goes to', s.prompt_field ? text(s.prompt_field) : 'no field'],
      ]),
      h('h4', {}, 'Where each attachment goes'),
      places.length
        ? h('ul', { class: 'attachment-places' }, ...places)
        : h('p', { class: 'muted' }, 'No attachments.'),
      constraints.length ? h('h4', {}, 'What each field takes') : null,
      constraints.length
        ? h(
            'table',
            { class: 'fields', 'aria-label': 'What each field takes' },
            h(
              'tbody',
              {},
              ...constraints.map(([f, c]) => h('tr', {}, h('th', { scope: 'row' }, f), h('td', {}, text(c)))),
            ),
          )
        : null,
    ),
  ];
}

/**
 * The context of an approval, by checkpoint type.
 * @param {Approval} approval
 * @returns {Array<HTMLElement | null>}
 */
export function contextView(approval) {
  const ctx = approval.context ?? {};
  switch (approval.checkpoint_type) {
    case 'information_review': {
      const caps = asObject(ctx.capabilities) ?? {};
      const attachments = Array.isArray(ctx.attachments) ? ctx.attachments.map(text) : [];
      return [
        h('h3', {}, 'Capabilities'),
        facts([
          ['Model', text(caps.model)],
          ['Version', text(caps.version)],
          ['Operation', text(caps.operation_type)],
          ['Estimated cost', cost(caps.estimated_cost)],
          ['Confidence', percent(ctx.confidence)],
        ]),
        signalsView(ctx.signals),
        h('h3', {}, 'Prompt'),
        h('p', { class: 'prompt' }, text(ctx.prompt)),
        h('h3', {}, 'Attachments'),
        attachments.length
          ? h('ul', {}, ...attachments.map((a) => h('li', {}, a)))
          : h('p', { class: 'muted' }, 'None.'),
        ...schemaSummaryView(caps.schema_summary, attachments),
        h('details', {}, h('summary', {}, 'Input schema'), json(caps.schema ?? null, 'Input schema')),
      ];
    }
    case 'payload_review':
      // The payload itself is drawn beside the original input (detail.js).
      return [
        facts([
          ['Model', text(ctx.model)],
          ['Estimated cost', cost(ctx.estimated_cost)],
          ['Changed fields', changedFields(ctx.changed_fields)],
        ]),
      ];
    case 'error_recovery': {
      const error = asObject(ctx.error) ?? {};
      return [
        h('h3', {}, 'Error'),
        facts([
          ['Code', text(error.code)],
          ['Message', text(error.message)],
          ['Step', text(error.step)],
          ['Retryable', typeof error.retryable === 'boolean' ? (error.retryable ? 'yes' : 'no') : ''],
          ['Attempt', text(ctx.attempt)],
        ]),
      ];
    }
    case 'response_review':
      return [
        expiryNotice(ctx.completed_at),
        facts([
          ['Quality', percent(ctx.quality)],
          ['Completed', formatTime(ctx.completed_at)],
        ]),
        signalsView(ctx.signals),
        h('h3', {}, 'Output'),
        outputView(ctx.output),
        h('details', {}, h('summary', {}, 'Payload sent'), json(ctx.payload ?? null, 'Payload sent')),
      ];
    default: {
      const { action_description: description, ...rest } = ctx;
      return [
        h('h3', {}, 'Requested action'),
        h('p', { class: 'prompt' }, text(description)),
        h('h3', {}, 'Context'),
        json(rest, 'Context'),
      ];
    }
  }
}

/**
 * The edits object an `edit` takes here, pre-filled with what is under review.
 * @param {Approval} approval
 * @returns {Record<string, unknown>}
 */
export function editTemplate(approval) {
  const ctx = approval.context ?? {};
  switch (approval.checkpoint_type) {
    case 'information_review':
      return { prompt: text(ctx.prompt), model_config: {} };
    case 'payload_review':
    case 'error_recovery':
      return { payload: asObject(ctx.payload) ?? {} };
    case 'response_review':
      return { response: ctx.output ?? null };
    default: {
      const { action_description: _description, ...rest } = ctx;
      return rest;
    }
  }
}

/** Keys an edit may carry, per checkpoint (SPEC §2.2); standalone approvals take any. */
const EDIT_KEYS = /** @type {Record<string, string[]>} */ ({
  information_review: ['prompt', 'model_config'],
  payload_review: ['payload'],
  error_recovery: ['payload'],
  response_review: ['response'],
});

/**
 * Parse the editor's text; the edits, or why they cannot be sent.
 * @param {Approval} approval
 * @param {string} source
 * @returns {{ edits: Record<string, unknown> } | { problem: string }}
 */
export function parseEdits(approval, source) {
  let value;
  try {
    value = JSON.parse(source);
  } catch (err) {
    return { problem: `Not valid JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
  const edits = asObject(value);
  if (!edits) return { problem: 'The edits must be a JSON object.' };
  if (Object.keys(edits).length === 0) return { problem: 'The edits must not be empty.' };
  const allowed = EDIT_KEYS[approval.checkpoint_type];
  if (allowed) {
    const extra = Object.keys(edits).filter((k) => !allowed.includes(k));
    if (extra.length > 0) {
      return {
        problem: `${approval.checkpoint_type} edits take ${allowed.join(', ')}, not ${extra.join(', ')}.`,
      };
    }
  }
  if (allowed?.includes('payload') && !asObject(edits.payload)) {
    return { problem: '"payload" must be a JSON object.' };
  }
  return { edits };
}
