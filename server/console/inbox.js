// @ts-check
/**
 * What the inbox shows, read from the console store's context: one-line summaries, the rows that
 * pass the filters in the chosen order, the selection.
 */
import { asObject } from './values.js';

/** @param {unknown} value */
const orEmpty = (value) => asObject(value) ?? {};

/** @typedef {import('./context.js').Approval} Approval */
/** @typedef {import('./store.js').ConsoleContext} ConsoleContext */
/** @typedef {import('./store.js').Filters} Filters */
/** @typedef {import('./store.js').Sort} Sort */
/** @typedef {import('./store.js').Decided} Decided */

const PROMPT_FIELDS = ['prompt', 'text', 'input', 'query', 'instruction'];

/**
 * The one-line summary of an approval: what it is about, on which model, at what cost.
 * @param {Approval} a
 * @returns {{ prompt: string, model: string, cost: number | null }}
 */
export function summaryOf(a) {
  const ctx = orEmpty(a.context);
  const caps = orEmpty(ctx.capabilities);
  const payload = orEmpty(ctx.payload);
  const fromPayload = PROMPT_FIELDS.map((f) => payload[f]).find((v) => typeof v === 'string');
  const prompt =
    typeof ctx.prompt === 'string'
      ? ctx.prompt
      : typeof fromPayload === 'string'
        ? fromPayload
        : typeof ctx.action_description === 'string'
          ? ctx.action_description
          : '';
  const model = typeof ctx.model === 'string' ? ctx.model : typeof caps.model === 'string' ? caps.model : '';
  const rawCost = ctx.estimated_cost ?? caps.estimated_cost;
  return { prompt, model, cost: typeof rawCost === 'number' ? rawCost : null };
}

/**
 * @param {Approval} a
 * @param {Filters} f
 */
function matches(a, f) {
  if (f.checkpoint && a.checkpoint_type !== f.checkpoint) return false;
  if (f.user && !(a.user_id ?? '').toLowerCase().includes(f.user.toLowerCase())) return false;
  if (f.session && !(a.session_id ?? '').toLowerCase().includes(f.session.toLowerCase())) return false;
  return true;
}

/** @type {Record<Sort, (x: Approval, y: Approval) => number>} */
const ORDER = {
  expires: (x, y) => Date.parse(x.expires_at) - Date.parse(y.expires_at),
  newest: (x, y) => Date.parse(y.created_at) - Date.parse(x.created_at),
  oldest: (x, y) => Date.parse(x.created_at) - Date.parse(y.created_at),
  cost: (x, y) => (summaryOf(y).cost ?? -1) - (summaryOf(x).cost ?? -1),
};

/**
 * The rows the inbox shows: pending approvals that pass the filters, in the chosen order (ties by
 * id, so the order is stable).
 * @param {ConsoleContext} ctx
 * @param {number} [_now] reserved: rows do not depend on the clock today
 * @returns {Approval[]}
 */
export function visibleApprovals(ctx, _now = 0) {
  return Object.values(ctx.inbox)
    .filter((a) => matches(a, ctx.filters))
    .sort((x, y) => ORDER[ctx.sort](x, y) || (x.approval_id < y.approval_id ? -1 : 1));
}

/**
 * The checkpoint types in the inbox (the options of the checkpoint filter).
 * @param {ConsoleContext} ctx
 */
export function checkpointTypes(ctx) {
  return [...new Set(Object.values(ctx.inbox).map((a) => a.checkpoint_type))].sort();
}

/**
 * The approval shown in the detail pane (pending, decided here, or closed elsewhere) and this tab's
 * decision of it.
 * @param {ConsoleContext} ctx
 * @returns {{ approval: Approval, decided: Decided | null } | null}
 */
export function selection(ctx) {
  if (!ctx.selectedId || !ctx.shown) return null;
  return { approval: ctx.shown, decided: ctx.decided[ctx.selectedId] ?? null };
}
