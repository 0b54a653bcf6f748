// @ts-check
/**
 * The schema form's state in the console store: the payload being edited field by field, what was
 * typed into each control, the problems beside the fields, and whether the form or the raw JSON
 * editor is shown. The form's `values` are exactly the `edits.payload` sent, and the diff shown
 * before sending is computed from them (`formEdits`).
 */
import { asObject } from './values.js';

/** @param {unknown} value */
const orEmpty = (value) => asObject(value) ?? {};

import { fieldDiff, mergedPayload } from './diff.js';
import { formFields, readInput, readSchema } from './schema-form.js';

/** @typedef {import('./context.js').Approval} Approval */
/**
 * @typedef {object} FormState
 * @property {string} approval_id
 * @property {'form' | 'json'} mode
 * @property {Record<string, unknown>} values the payload the form stands for
 * @property {Record<string, string | boolean>} inputs what was typed, by field (also when it cannot be sent)
 * @property {Record<string, string>} problems why a field's input cannot be sent, by field
 */

/**
 * The payload under review of a payload_review or error_recovery approval, and its schema.
 * @param {Approval | null} a
 */
export function formSource(a) {
  if (!a || (a.checkpoint_type !== 'payload_review' && a.checkpoint_type !== 'error_recovery')) return null;
  const schema = readSchema(a.context?.input_schema);
  return schema ? { schema, payload: orEmpty(a.context?.payload) } : null;
}

/**
 * A fresh form for an approval (null where it has no schema: the JSON editor alone is offered).
 * @param {Approval | null} a
 * @returns {FormState | null}
 */
export function startForm(a) {
  const source = formSource(a);
  if (!a || !source) return null;
  return {
    approval_id: a.approval_id,
    mode: 'form',
    values: { ...source.payload },
    inputs: {},
    problems: {},
  };
}

/**
 * The edit the form stands for, the diff it makes, and whether it can be sent.
 * @param {Approval} a
 * @param {FormState} form
 */
export function formEdits(a, form) {
  const before = orEmpty(a.context?.payload);
  const changes = fieldDiff(before, mergedPayload(before, form.values));
  const blocked = Object.keys(form.problems).length > 0;
  return { edits: { payload: form.values }, changes, blocked };
}

/**
 * @typedef {{ form: FormState | null, shown: Approval | null }} WithForm
 */

/** Transitions of the form (merged into the console store's). */
export const formTransitions = {
  /**
   * A control changed: its input is read against the field's schema; a value goes into the
   * payload, a problem stays beside the field (and keeps the edit from being sent).
   * @template {WithForm} C
   * @param {C} ctx
   * @param {{ field: string, input: string | boolean }} e
   * @returns {C}
   */
  formFieldChanged: (ctx, e) => {
    const form = ctx.form;
    const source = formSource(ctx.shown);
    if (!form || !source || ctx.shown?.approval_id !== form.approval_id) return ctx;
    const field = formFields(source.schema, source.payload).find((f) => f.name === e.field);
    if (!field) return ctx;
    const read = readInput(field, e.input, Object.hasOwn(source.payload, e.field));
    const { [e.field]: _value, ...otherValues } = form.values;
    const { [e.field]: _problem, ...otherProblems } = form.problems;
    const inputs = { ...form.inputs, [e.field]: e.input };
    if ('problem' in read) {
      return { ...ctx, form: { ...form, inputs, problems: { ...otherProblems, [e.field]: read.problem } } };
    }
    const values = 'unset' in read ? otherValues : { ...form.values, [e.field]: read.value };
    return { ...ctx, form: { ...form, values, inputs, problems: otherProblems } };
  },
  /**
   * Between the form and the raw JSON editor. Back to the form, the JSON's payload (already
   * parsed) replaces the form's values.
   * @template {WithForm} C
   * @param {C} ctx
   * @param {{ mode: 'form' | 'json', values?: Record<string, unknown> }} e
   * @returns {C}
   */
  formModeChanged: (ctx, e) => {
    const form = ctx.form;
    if (!form) return ctx;
    if (e.mode === 'json') return { ...ctx, form: { ...form, mode: 'json' } };
    const values = e.values ?? form.values;
    return { ...ctx, form: { ...form, mode: 'form', values: { ...values }, inputs: {}, problems: {} } };
  },
};
