// @ts-check
/**
 * The history: approvals decided (by anyone) and finished runs, newest first; one run in full:
 * its final result, its decisions, its event timeline and its statechart.
 */
import { runStatechart } from './detail.js';
import { actorName, age, facts, formatTime, h, json, shortId, snippet, text } from './dom.js';
import { outputView } from './media.js';

/** @typedef {import('./http.js').Reader} Reader */
/** @typedef {{ run_id: string, status: string, current_step: string, user_id?: string, original_input?: Record<string, unknown>, capabilities?: { model?: string } | null, step_history?: Array<Record<string, unknown>>, updated_at: string, final_result?: unknown, error?: { code?: string, message?: string } | null }} RunView */

const TERMINAL = ['completed', 'failed', 'cancelled', 'expired'];
const DECIDED = ['approved', 'edited', 'rejected', 'retried'];

/**
 * @param {RunView} run
 */
function userOf(run) {
  return text(run.original_input?.user_id ?? run.user_id ?? '');
}

/**
 * The decided approvals and finished runs the caller may read.
 * @param {Reader} reader
 * @param {{ me: string | null, open: (runId: string) => void, now: number }} deps
 */
export function historyList(reader, deps) {
  const box = h(
    'div',
    { class: 'history-list', 'aria-busy': 'true' },
    h('p', { class: 'muted' }, 'Loading…'),
  );
  void reader.get('/hitl/runs?limit=100', 1000).then((res) => {
    box.removeAttribute('aria-busy');
    if (!res.ok) {
      box.replaceChildren(h('p', { class: 'error' }, `Could not list runs: ${res.message}`));
      return;
    }
    /** @type {RunView[]} */
    const runs = res.data.runs ?? [];
    const decisions = runs
      .flatMap((run) =>
        (run.step_history ?? [])
          .filter((e) => e.approval_id && DECIDED.includes(String(e.status)))
          .map((e) => ({ run, entry: e })),
      )
      .sort((x, y) => String(y.entry.ended_at).localeCompare(String(x.entry.ended_at)));
    const finished = runs.filter((r) => TERMINAL.includes(r.status));
    /**
     * @param {string} runId
     * @param {...(Node | string | null)} children
     */
    const row = (runId, ...children) => {
      const b = h('button', { type: 'button', class: 'history-item', 'data-run-id': runId }, ...children);
      b.addEventListener('click', () => deps.open(runId));
      return h('li', {}, b);
    };
    box.replaceChildren(
      h('h3', {}, `Decided approvals (${decisions.length})`),
      decisions.length
        ? h(
            'ul',
            { class: 'rows', 'aria-label': 'Decided approvals' },
            ...decisions.map(({ run, entry }) =>
              row(
                run.run_id,
                h('span', { class: `badge ${text(entry.status)}` }, text(entry.status)),
                h('span', { class: 'line' }, snippet(run.original_input?.prompt, 60)),
                h(
                  'span',
                  { class: 'meta' },
                  `${text(entry.step)} · by ${actorName(entry.actor, deps.me)} · ${age(entry.ended_at, deps.now)} ago · run ${shortId(run.run_id)}`,
                ),
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'Nothing decided yet.'),
      h('h3', {}, `Finished runs (${finished.length})`),
      finished.length
        ? h(
            'ul',
            { class: 'rows', 'aria-label': 'Finished runs' },
            ...finished.map((run) =>
              row(
                run.run_id,
                h('span', { class: `badge ${run.status}` }, run.status),
                h('span', { class: 'line' }, snippet(run.original_input?.prompt, 60)),
                h(
                  'span',
                  { class: 'meta' },
                  `${text(run.capabilities?.model ?? '')} · user ${userOf(run) || '—'} · ${age(run.updated_at, deps.now)} ago · run ${shortId(run.run_id)}`,
                ),
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'No run has finished yet.'),
    );
  });
  return box;
}

/**
 * One run in full.
 * @param {Reader} reader
 * @param {string} runId
 * @param {string | null} me
 */
export function runHistory(reader, runId, me) {
  const box = h('div', { class: 'run-history', 'aria-busy': 'true' }, h('p', { class: 'muted' }, 'Loading…'));
  void Promise.all([
    reader.get(`/hitl/runs/${runId}`),
    reader.get(`/hitl/runs/${runId}/events?limit=1000`),
  ]).then(([view, events]) => {
    box.removeAttribute('aria-busy');
    if (!view.ok) {
      box.replaceChildren(h('p', { class: 'error' }, `Could not read the run: ${view.message}`));
      return;
    }
    /** @type {RunView} */
    const run = view.data;
    const decisions = (run.step_history ?? []).filter((e) => e.approval_id && e.actor);
    /** @type {Array<Record<string, unknown>>} */
    const rows = events.ok ? events.data.events : [];
    box.replaceChildren(
      h('p', { class: 'lede' }, snippet(run.original_input?.prompt, 200)),
      facts([
        ['Status', h('span', { class: `badge ${run.status}` }, run.status)],
        ['Step', run.current_step],
        ['Run', run.run_id],
        ['User', userOf(run)],
        ['Model', text(run.capabilities?.model ?? '')],
        ['Error', run.error ? `${text(run.error.code)}: ${text(run.error.message)}` : ''],
        ['Updated', formatTime(run.updated_at)],
      ]),
      h('h3', {}, 'Final result'),
      run.status === 'completed'
        ? outputView(run.final_result)
        : h('p', { class: 'muted' }, `None: the run is ${run.status}.`),
      h('h3', {}, 'Decisions'),
      decisions.length
        ? h(
            'ul',
            { class: 'decisions' },
            ...decisions.map((e) =>
              h(
                'li',
                {},
                `${text(e.step)}: ${text(e.status)} by ${actorName(e.actor, me)} at ${formatTime(e.ended_at)}`,
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'No human decision.'),
      h('h3', {}, 'Timeline'),
      h(
        'ol',
        { class: 'timeline', 'aria-label': 'Event timeline' },
        ...rows.map((e) =>
          h(
            'li',
            { 'data-type': text(e.type) },
            h('time', { datetime: text(e.created_at) }, formatTime(e.created_at)),
            h('code', {}, text(e.type)),
            h('span', { class: 'who' }, actorName(e.actor, me)),
            h('span', {}, text(e.message)),
          ),
        ),
      ),
      h('h3', {}, 'Statechart'),
      runStatechart(reader, runId),
      h('details', {}, h('summary', {}, 'Run view (JSON)'), json(run, 'Run view')),
    );
  });
  return box;
}
