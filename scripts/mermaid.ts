import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition } from 'xstate';
import { type DirectedGraphNode, toDirectedGraph } from 'xstate/graph';

type Edge = { source: AnyStateNode; target: AnyStateNode; label: string };

const INDENT = '  ';

/** A Mermaid `stateDiagram-v2` of an XState v5 machine, built from `toDirectedGraph`. */
export function toMermaid(machine: AnyStateMachine): string {
  // Everything follows document order, never Map/Set iteration of runtime data, so the output depends
  // only on the definition and committed copies compare byte for byte.
  const graph = toDirectedGraph(machine);
  const root = graph.stateNode;
  const nodes = preOrder(graph);
  const edges = nodes.flatMap((node) => [
    ...node.edges.map((e) => ({ source: e.source, target: e.target, label: edgeLabel(e.transition) })),
    // toDirectedGraph leaves out eventless transitions: add them.
    ...(node.stateNode.always ?? []).flatMap((t) =>
      (t.target ?? [node.stateNode]).map((target) => ({
        source: node.stateNode,
        target,
        label: edgeLabel(t),
      })),
    ),
  ]);
  // Mermaid cannot draw an edge from the diagram itself: wrap the root only when it has edges.
  const wrapRoot = edges.some((e) => e.source === root || e.target === root);
  const ids = assignIds(wrapRoot ? nodes.map((n) => n.stateNode) : nodes.slice(1).map((n) => n.stateNode));
  const id = (node: AnyStateNode): string => ids.get(node) ?? '';

  // Mermaid moves a state into the last composite block that mentions it, so an edge goes inside a
  // block only when both ends are declared directly in it; every other edge goes at the top level.
  const byBlock = new Map<AnyStateNode | null, Edge[]>();
  for (const edge of edges) {
    const parent = edge.source.parent;
    const inBlock = parent !== undefined && parent === edge.target.parent && parent.type !== 'parallel';
    const block = inBlock ? parent : null;
    byBlock.set(block, [...(byBlock.get(block) ?? []), edge]);
  }
  const edgeLines = (block: AnyStateNode | null, depth: number): string[] =>
    (byBlock.get(block) ?? []).map(
      (e) => `${INDENT.repeat(depth)}${id(e.source)} --> ${id(e.target)} : ${cleanLabel(e.label)}`,
    );

  const body = (node: AnyStateNode, depth: number): string[] => {
    const pad = INDENT.repeat(depth);
    const children = childrenOf(node);
    if (node.type === 'parallel') {
      // Regions of a parallel state are separated by `--`; all of them start at once, so no `[*]`.
      return children.flatMap((child, i) => [...(i > 0 ? [`${pad}--`] : []), ...declare(child, depth)]);
    }
    const initial = node.initial?.target?.[0];
    return [
      ...(initial ? [`${pad}[*] --> ${id(initial)}`] : []),
      ...children.flatMap((child) => declare(child, depth)),
      ...edgeLines(node, depth),
      ...children.filter((c) => c.type === 'final').map((c) => `${pad}${id(c)} --> [*]`),
    ];
  };

  const declare = (node: AnyStateNode, depth: number): string[] => {
    const pad = INDENT.repeat(depth);
    if (childrenOf(node).length > 0) {
      // Composite states keep a bare id: Mermaid mishandles `state "label" as id { … }`.
      return [`${pad}state ${id(node)} {`, ...body(node, depth + 1), `${pad}}`];
    }
    const label = node.type === 'history' ? `${node.key} (history)` : node.key;
    return [
      label === id(node) ? `${pad}${id(node)}` : `${pad}state "${label.replace(/"/g, "'")}" as ${id(node)}`,
    ];
  };

  const lines = wrapRoot ? [`${INDENT}[*] --> ${id(root)}`, ...declare(root, 1)] : body(root, 1);
  return ['stateDiagram-v2', ...lines, ...edgeLines(null, 1)].join('\n') + '\n';
}

function preOrder(node: DirectedGraphNode): DirectedGraphNode[] {
  return [node, ...node.children.flatMap(preOrder)];
}

function childrenOf(node: AnyStateNode): AnyStateNode[] {
  return Object.values(node.states);
}

/** `event [guard]`; eventless transitions are `always`, delayed ones `after <delay>`. */
export function edgeLabel(t: AnyTransitionDefinition): string {
  const delay: unknown = 'delay' in t ? t.delay : undefined;
  const event = t.eventType === '' ? 'always' : delay !== undefined ? `after ${String(delay)}` : t.eventType;
  return t.guard === undefined ? event : `${event} [${guardLabel(t.guard)}]`;
}

function guardLabel(guard: unknown): string {
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'object' && guard !== null && 'type' in guard && typeof guard.type === 'string') {
    return guard.type;
  }
  if (typeof guard !== 'function') return 'guard';
  // xstate's higher-order guards are functions named and/or/not carrying their operands in `guards`.
  const operands = 'guards' in guard && Array.isArray(guard.guards) ? guard.guards.map(nestedGuardLabel) : [];
  if (guard.name === 'not' && operands.length === 1) return `!${operands[0]}`;
  if (guard.name === 'and' && operands.length > 0) return operands.join(' && ');
  if (guard.name === 'or' && operands.length > 0) return operands.join(' || ');
  if (guard.name === 'stateIn' && 'stateValue' in guard) return `in ${JSON.stringify(guard.stateValue)}`;
  return guard.name || 'inline';
}

function nestedGuardLabel(guard: unknown): string {
  const label = guardLabel(guard);
  return label.includes(' ') ? `(${label})` : label;
}

// Mermaid ends an edge label at `:`, `;` or a newline and reads `#` as an entity start.
export function cleanLabel(label: string): string {
  return label
    .replace(/[:;#\r\n]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Mermaid ids: the state key when unique, else its path; only characters Mermaid reads as an id. */
function assignIds(nodes: AnyStateNode[]): Map<AnyStateNode, string> {
  const clean = (s: string): string => s.replace(/[^A-Za-z0-9_]/g, '_') || '_';
  const keyCount = new Map<string, number>();
  for (const node of nodes) keyCount.set(clean(node.key), (keyCount.get(clean(node.key)) ?? 0) + 1);
  const ids = new Map<AnyStateNode, string>();
  const taken = new Set<string>();
  for (const node of nodes) {
    const key = clean(node.key);
    let id = (keyCount.get(key) ?? 0) > 1 && node.path.length > 0 ? clean(node.path.join('_')) : key;
    // Mermaid's lexer reads these as keywords (`default` even as a prefix).
    if (/^default/i.test(id) || /^(state|note|class|classdef|scale|statediagram)$/i.test(id)) id = `s_${id}`;
    while (taken.has(id)) id = `${id}_`;
    taken.add(id);
    ids.set(node, id);
  }
  return ids;
}
