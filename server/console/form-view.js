// @ts-check
/**
 * The schema form on the page: one labelled control per field of the model's input schema, its
 * description as help text, the server's issues and the form's own problems beside it, a media
 * preview beside a URI that is an image, audio or video. The state lives in the store
 * (form-store.js); a control reports its input and the form redraws what depends on it in place.
 */
import { asObject, h, text } from './dom.js';
import { diffTable } from './fields.js';
import { formEdits, formSource } from './form-store.js';
import { mediaKind } from './media.js';
import { formFields, inputText, rangeText } from './schema-form.js';

/** @typedef {import('./schema-form.js').FormField} FormField */
/** @typedef {import('./form-store.js').FormState} FormState */

/**
 * A media preview of a URI value, or nothing.
 * @param {unknown} value
 * @param {string} label
 */
export function mediaPreview(value, label) {
  if (typeof value !== 'string') return null;
  const kind = mediaKind(value);
  if (!kind) return null;
  const el =
    kind === 'image'
      ? h('img', { src: value, alt: label })
      : h(kind, { src: value, controls: true, preload: 'metadata', 'aria-label': label });
  return h('div', { class: `preview preview-${kind}` }, el);
}

/**
 * The control of one field.
 * @param {FormField} f
 * @param {unknown} value
 * @param {string | boolean | undefined} typed
 * @param {boolean} wasSent
 */
function control(f, value, typed, wasSent) {
  const id = `field-${f.name}`;
  const common = { id, name: f.name, 'aria-describedby': `${id}-help ${id}-issues` };
  if (f.kind === 'select') {
    const empty =
      wasSent && !f.nullable ? [] : [h('option', { value: '' }, wasSent ? 'null' : unsetLabel(f))];
    const el = /** @type {HTMLSelectElement} */ (
      h(
        'select',
        common,
        ...empty,
        ...f.options.map((o) => h('option', { value: JSON.stringify(o) }, String(o))),
      )
    );
    el.value = typeof typed === 'string' ? typed : inputText(f, value);
    return el;
  }
  if (f.kind === 'boolean') {
    const el = /** @type {HTMLInputElement} */ (h('input', { ...common, type: 'checkbox', role: 'switch' }));
    el.checked =
      typeof typed === 'boolean' ? typed : value === undefined ? f.default === true : value === true;
    return el;
  }
  /** @type {Record<string, string | boolean | undefined>} */
  const attrs = { ...common };
  if (f.kind === 'integer' || f.kind === 'number') {
    Object.assign(attrs, { type: 'number', step: f.kind === 'integer' ? '1' : 'any', inputmode: 'decimal' });
    if (f.min !== null) attrs.min = String(f.min);
    if (f.max !== null) attrs.max = String(f.max);
  } else if (f.kind === 'uri') attrs.type = 'url';
  else attrs.type = 'text';
  if (f.default !== undefined && f.default !== null) attrs.placeholder = `default: ${text(f.default)}`;
  const el = /** @type {HTMLInputElement} */ (h('input', attrs));
  el.value = typeof typed === 'string' ? typed : inputText(f, value);
  return el;
}

/** @param {FormField} f */
function unsetLabel(f) {
  return f.default === undefined ? '(not set)' : `(not set: model default ${text(f.default)})`;
}

/**
 * What a field takes, in words (after its description).
 * @param {FormField} f
 */
function takes(f) {
  if (f.kind === 'select') return `One of ${f.options.map(String).join(', ')}.`;
  if ((f.kind === 'integer' || f.kind === 'number') && (f.min !== null || f.max !== null))
    return `${f.kind === 'integer' ? 'An integer' : 'A number'} ${rangeText(f)}.`;
  if (f.kind === 'uri') return 'An http(s) URL or a data: URI.';
  return '';
}

/**
 * The field's description as help text, then what it takes.
 * @param {FormField} f
 */
function helpText(f) {
  const about = f.description.trim();
  const said = about && !/[.!?]$/.test(about) ? `${about}.` : about;
  return [said, takes(f)].filter(Boolean).join(' ');
}

/**
 * The schema form.
 * @param {object} args
 * @param {import('./schema-form.js').InputSchema} args.schema
 * @param {Record<string, unknown>} args.payload the payload under review
 * @param {unknown} args.issues the server's validation issues
 * @param {() => FormState | null} args.read the form's state now
 * @param {(field: string, input: string | boolean) => void} args.changed
 * @param {() => void} args.after called after each change (to redraw the diff)
 */
export function schemaForm({ schema, payload, issues, read, changed, after }) {
  const list = (Array.isArray(issues) ? issues : []).map((i) => asObject(i) ?? {});
  const fields = formFields(schema, payload);
  const start = read();
  const rows = fields.map((f) => {
    const id = `field-${f.name}`;
    const wasSent = Object.hasOwn(payload, f.name);
    const el = control(f, start?.values[f.name], start?.inputs[f.name], wasSent);
    const problem = h('p', { class: 'error problem', role: 'alert' });
    const preview = h('div', { class: 'preview-box' });
    const server = list
      .filter((i) => i.field === f.name)
      .map((i) =>
        h(
          'p',
          { class: `issue sev-${text(i.severity)}` },
          h('span', { class: 'severity' }, text(i.severity)),
          ' ',
          text(i.issue),
          i.suggested_fix ? ` Fix: ${text(i.suggested_fix)}` : '',
        ),
      );
    const redraw = () => {
      const form = read();
      problem.textContent = form?.problems[f.name] ?? '';
      if (f.kind === 'uri') {
        const node = mediaPreview(form?.values[f.name], `Preview of ${f.name}`);
        preview.replaceChildren(...(node ? [node] : []));
      }
      row.classList.toggle('has-error', Boolean(form?.problems[f.name]) || server.length > 0);
    };
    const report = () => {
      changed(f.name, el instanceof HTMLInputElement && el.type === 'checkbox' ? el.checked : el.value);
      redraw();
      after();
    };
    el.addEventListener(
      el instanceof HTMLSelectElement || el.type === 'checkbox' ? 'change' : 'input',
      report,
    );
    const row = h(
      'div',
      { class: 'form-field', 'data-field': f.name, 'data-kind': f.kind },
      h('label', { for: id }, f.title, f.required ? h('span', { class: 'required' }, ' (required)') : null),
      el,
      h('p', { id: `${id}-help`, class: 'hint' }, helpText(f)),
      h('div', { id: `${id}-issues`, class: 'field-issues' }, problem, ...server),
      preview,
    );
    redraw();
    return row;
  });
  return h(
    'fieldset',
    { class: 'schema-form', id: 'schema-form' },
    h('legend', {}, 'Payload to send'),
    ...rows,
  );
}

/**
 * The edit as a form: the fields, the field-level diff of exactly the payload the form will send,
 * and the buttons (send, edit as JSON, cancel).
 * @param {import('./context.js').Approval} a
 * @param {object} deps
 * @param {boolean} deps.busy a decision is in flight
 * @param {() => FormState | null} deps.read
 * @param {(field: string, input: string | boolean) => void} deps.changed
 * @param {(edits: Record<string, unknown>) => void} deps.send
 * @param {() => void} deps.asJson
 * @param {() => void} deps.cancel
 */
export function formEditor(a, deps) {
  const source = formSource(a);
  if (!source) return h('p', { class: 'muted' }, 'No schema for a form.');
  const diffBox = h('div', { class: 'diff-box', 'aria-live': 'polite' });
  const send = h('button', { type: 'button', disabled: deps.busy }, 'Send edit');
  const json = h('button', { type: 'button', class: 'secondary', disabled: deps.busy }, 'Edit as JSON');
  const cancel = h('button', { type: 'button', class: 'secondary', disabled: deps.busy }, 'Cancel edit');
  const refresh = () => {
    const form = deps.read();
    if (!form) return;
    const out = formEdits(a, form);
    diffBox.replaceChildren(h('h4', {}, 'Changes before sending'), diffTable(out.changes));
    send.toggleAttribute('disabled', deps.busy || out.blocked || out.changes.length === 0);
  };
  const fields = schemaForm({
    schema: source.schema,
    payload: source.payload,
    issues: a.context?.issues,
    read: deps.read,
    changed: deps.changed,
    after: refresh,
  });
  refresh();
  send.addEventListener('click', () => {
    const form = deps.read();
    if (!form) return;
    const out = formEdits(a, form);
    if (!out.blocked && out.changes.length > 0) deps.send(out.edits);
  });
  json.addEventListener('click', deps.asJson);
  cancel.addEventListener('click', deps.cancel);
  return h(
    'div',
    { class: 'editor form-editor' },
    h(
      'p',
      { class: 'hint' },
      "The payload as a form from the model's input schema; changes are listed below before anything is sent.",
    ),
    fields,
    diffBox,
    h('div', { class: 'actions', role: 'group', 'aria-label': 'Edit actions' }, send, json, cancel),
  );
}
