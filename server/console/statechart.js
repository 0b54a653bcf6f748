// @ts-check
/**
 * The run machine as an in-page SVG statechart, drawn from the machine's own definition
 * (`/console/run-machine.json`, generated on the server from `machines/run-machine.ts`): the
 * phases left to right, their states inside, the terminal states below; the run's current state
 * and phase highlighted, the phases it passed marked.
 */

const SVG = 'http://www.w3.org/2000/svg';
const BOX_W = 150;
const GAP = 26;
const HEAD = 30;
const ROW = 24;
const TERMINAL = ['failed', 'cancelled', 'expired'];

/** @typedef {{ key: string, states: Outline[] }} Outline */

/**
 * @param {string} tag
 * @param {Record<string, string | number>} attrs
 * @param {...(SVGElement | string)} children
 */
function s(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  for (const c of children) node.append(c);
  return node;
}

/**
 * Which state the run is in, from its view: the phase (`current_step`) and, when it waits for a
 * human, the review state inside it.
 * @param {{ current_step?: unknown, status?: unknown }} view
 * @returns {{ phase: string, leaf: string | null }}
 */
export function activeState(view) {
  const phase = String(view.current_step ?? '');
  if (view.status === 'awaiting_human') return { phase, leaf: 'awaitingReview' };
  if (view.status === 'paused' && phase !== 'api_call') return { phase, leaf: 'deciding' };
  return { phase, leaf: null };
}

/**
 * @param {Outline} machine
 * @param {{ current_step?: unknown, status?: unknown, step_history?: unknown }} view
 * @returns {SVGSVGElement}
 */
export function statechartView(machine, view) {
  const { phase, leaf } = activeState(view);
  const visited = new Set(
    (Array.isArray(view.step_history) ? view.step_history : []).map((e) => String(e?.step ?? '')),
  );
  const phases = machine.states.filter((st) => !TERMINAL.includes(st.key));
  const terminals = machine.states.filter((st) => TERMINAL.includes(st.key));
  const tallest = Math.max(1, ...phases.map((p) => p.states.length));
  const boxH = HEAD + tallest * ROW + 10;
  const width = phases.length * BOX_W + (phases.length - 1) * GAP + 20;
  const termY = boxH + 70;
  const height = termY + HEAD + 20;

  const svg = /** @type {SVGSVGElement} */ (
    s('svg', {
      viewBox: `0 0 ${width} ${height}`,
      class: 'statechart',
      role: 'img',
      'aria-label': `Run statechart, current state ${phase}${leaf ? `.${leaf}` : ''}`,
    })
  );
  svg.append(
    s(
      'defs',
      {},
      s(
        'marker',
        {
          id: 'arrow',
          viewBox: '0 0 10 10',
          refX: 9,
          refY: 5,
          markerWidth: 7,
          markerHeight: 7,
          orient: 'auto',
        },
        s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrow-head' }),
      ),
    ),
  );

  phases.forEach((p, i) => {
    const x = 10 + i * (BOX_W + GAP);
    const here = p.key === phase;
    const cls = ['phase', here ? 'active' : '', visited.has(p.key) && !here ? 'visited' : '']
      .join(' ')
      .trim();
    const g = s('g', { class: cls, 'data-state': p.key });
    g.append(
      s('rect', { x, y: 10, width: BOX_W, height: boxH, rx: 10, class: 'box' }),
      s('text', { x: x + BOX_W / 2, y: 10 + 20, 'text-anchor': 'middle', class: 'phase-name' }, p.key),
    );
    p.states.forEach((child, j) => {
      const y = 10 + HEAD + j * ROW;
      const on = here && child.key === leaf;
      const c = s('g', { class: on ? 'substate active' : 'substate', 'data-state': `${p.key}.${child.key}` });
      c.append(
        s('rect', { x: x + 10, y, width: BOX_W - 20, height: ROW - 5, rx: 9, class: 'pill' }),
        s('text', { x: x + BOX_W / 2, y: y + 14, 'text-anchor': 'middle', class: 'pill-name' }, child.key),
      );
      g.append(c);
    });
    svg.append(g);
    if (i < phases.length - 1) {
      const y = 10 + HEAD / 2 + 2;
      svg.append(
        s('line', {
          x1: x + BOX_W,
          y1: y,
          x2: x + BOX_W + GAP - 2,
          y2: y,
          class: 'edge',
          'marker-end': 'url(#arrow)',
        }),
      );
    }
  });

  const termW = 130;
  const termX0 = (width - terminals.length * termW - (terminals.length - 1) * GAP) / 2;
  terminals.forEach((t, i) => {
    const x = termX0 + i * (termW + GAP);
    const here = t.key === phase;
    const g = s('g', { class: here ? 'phase terminal active' : 'phase terminal', 'data-state': t.key });
    g.append(
      s('rect', { x, y: termY, width: termW, height: HEAD, rx: 15, class: 'box' }),
      s('text', { x: x + termW / 2, y: termY + 20, 'text-anchor': 'middle', class: 'phase-name' }, t.key),
    );
    svg.append(g);
  });
  svg.append(
    s(
      'text',
      { x: width / 2, y: termY - 16, 'text-anchor': 'middle', class: 'note' },
      'from any review: reject → cancelled · deadline → expired · provider failure → failed · cancel from anywhere',
    ),
  );
  return svg;
}
