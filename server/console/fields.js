// @ts-check
/**
 * Payloads as tables of fields: the payload to be sent with validation issues beside the fields
 * they name, the original input next to it, and the field-level diff of an edit.
 */
import { asObject, h, inline, text } from './dom.js';

/** @typedef {import('./diff.js').Change} Change */

/**
 * @param {unknown} raw
 * @returns {{ field: string, issue: string, severity: string, suggested_fix: string }}
 */
function readIssue(raw) {
  const i = asObject(raw) ?? {};
  const severity = ['error', 'warning', 'info'].includes(String(i.severity)) ? String(i.severity) : 'info';
  return { field: text(i.field), issue: text(i.issue), severity, suggested_fix: text(i.suggested_fix) };
}

/**
 * @param {ReturnType<typeof readIssue>} issue
 */
function issueView(issue) {
  return h(
    'div',
    { class: `issue sev-${issue.severity}` },
    h('span', { class: 'severity' }, issue.severity),
    ' ',
    issue.issue,
    issue.suggested_fix ? h('div', { class: 'fix' }, 'Fix: ', issue.suggested_fix) : null,
  );
}

/**
 * The payload, one row per field, its issues in the same row; issues about fields the payload
 * lacks get rows of their own.
 * @param {unknown} payload
 * @param {unknown} issues
 * @param {string} label accessible name of the table
 */
export function payloadTable(payload, issues, label) {
  const fields = asObject(payload) ?? {};
  const list = (Array.isArray(issues) ? issues : []).map(readIssue);
  const rows = Object.entries(fields).map(([field, value]) => {
    const mine = list.filter((i) => i.field === field);
    return h(
      'tr',
      { 'data-field': field, class: mine.some((i) => i.severity === 'error') ? 'has-error' : undefined },
      h('th', { scope: 'row' }, field),
      h('td', { class: 'value' }, h('code', {}, inline(value))),
      h('td', { class: 'issues-cell' }, ...mine.map(issueView)),
    );
  });
  const orphans = list.filter((i) => !Object.hasOwn(fields, i.field));
  for (const i of orphans) {
    rows.push(
      h(
        'tr',
        { 'data-field': i.field, class: i.severity === 'error' ? 'has-error' : undefined },
        h('th', { scope: 'row' }, i.field || '(payload)'),
        h('td', { class: 'value muted' }, 'not in the payload'),
        h('td', { class: 'issues-cell' }, issueView(i)),
      ),
    );
  }
  return h(
    'table',
    { class: 'fields', 'aria-label': label },
    h('thead', {}, h('tr', {}, h('th', {}, 'Field'), h('th', {}, 'Value'), h('th', {}, 'Issues'))),
    h('tbody', {}, ...rows),
  );
}

/**
 * The original input of a run, as the requester sent it (secrets redacted by the server).
 * @param {unknown} input
 */
export function originalInputTable(input) {
  const fields = asObject(input) ?? {};
  return h(
    'table',
    { class: 'fields', 'aria-label': 'Original input' },
    h(
      'tbody',
      {},
      ...Object.entries(fields).map(([field, value]) =>
        h(
          'tr',
          {},
          h('th', { scope: 'row' }, field),
          h('td', { class: 'value' }, h('code', {}, inline(value))),
        ),
      ),
    ),
  );
}

/**
 * The changes an edit makes, field by field.
 * @param {Change[]} changes
 */
export function diffTable(changes) {
  if (changes.length === 0) return h('p', { class: 'muted', id: 'diff-empty' }, 'No changes yet.');
  return h(
    'table',
    { class: 'fields diff', 'aria-label': 'Changes before sending' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Field'), h('th', {}, 'Before'), h('th', {}, 'After'))),
    h(
      'tbody',
      {},
      ...changes.map((c) =>
        h(
          'tr',
          { class: `change ${c.kind}`, 'data-field': c.field },
          h('th', { scope: 'row' }, c.field, h('span', { class: 'kind' }, c.kind)),
          h('td', { class: 'before' }, c.kind === 'added' ? '—' : h('del', {}, inline(c.before))),
          h('td', { class: 'after' }, c.kind === 'removed' ? '—' : h('ins', {}, inline(c.after))),
        ),
      ),
    ),
  );
}
