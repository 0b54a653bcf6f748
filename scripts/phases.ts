import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition } from 'xstate';
import { cleanLabel, edgeLabel } from './mermaid.ts';

/**
 * The run machine drawn for people: an overview of its phases (the top-level states) and one
 * diagram per phase. Transitions defined on the root (pause, resume, cancel, recovered: they apply
 * anywhere) become a note instead of edges across the chart; in the overview, early exits to the
 * terminal states (reject, deadline, provider failure) are notes beside each phase, so no edge
 * crosses the chart or a terminal state. Output depends only on the definition (document order).
 */

type Edge = { source: AnyStateNode; target: AnyStateNode; label: string };
const INDENT = '  ';

/** Every transition of a state node (event-driven and eventless), one entry per target. */
function transitionsOf(node: AnyStateNode): Edge[] {
  const defs: AnyTransitionDefinition[] = [...[...node.transitions.values()].flat(), ...(node.always ?? [])];
  return defs.flatMap((t) =>
    (t.target ?? []).map((target) => ({ source: node, target, label: edgeLabel(t) })),
  );
}

function descendants(node: AnyStateNode): AnyStateNode[] {
  return Object.values(node.states).flatMap((child) => [child, ...descendants(child)]);
}

/** The top-level state a node belongs to. */
function phaseOf(node: AnyStateNode): AnyStateNode {
  let n = node;
  while (n.parent?.parent) n = n.parent;
  return n;
}

const isTerminal = (n: AnyStateNode) => n.type === 'final';
const event = (label: string) => cleanLabel(label.replace(/ \[.*\]$/, ''));

/** The note on transitions that apply in every state (defined on the root). */
function globalNote(machine: AnyStateMachine, anchor: string, depth: number): string[] {
  const labels = transitionsOfRoot(machine).map((e) => {
    const where = e.target === machine.root ? '(stays in its state)' : `→ ${e.target.key}`;
    return `${cleanLabel(e.label)} ${where}`;
  });
  if (labels.length === 0) return [];
  const pad = INDENT.repeat(depth);
  return [
    `${pad}note right of ${anchor}`,
    `${pad}${INDENT}In every state:<br/>${labels.join('<br/>')}`,
    `${pad}end note`,
  ];
}

function transitionsOfRoot(machine: AnyStateMachine): Edge[] {
  const seen = new Set<string>();
  const out: Edge[] = [];
  for (const [type, defs] of machine.root.transitions) {
    for (const t of defs) {
      const target = t.target?.[0] ?? machine.root;
      const key = `${type}>${target.id}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ source: machine.root, target, label: edgeLabel(t) });
    }
  }
  return out;
}

/** Events joined, each once, in order; `always` (no human needed) reads as `auto`. */
function joined(labels: string[]): string {
  return [...new Set(labels.map((l) => (event(l) === 'always' ? 'auto' : event(l))))].join(', ');
}

/** The overview: phases in order, forward and backward edges between them, exits as notes. */
export function overview(machine: AnyStateMachine): string {
  const phases = Object.values(machine.root.states);
  const flow = phases.filter((p) => !isTerminal(p) || p.key === 'completed');
  const early = phases.filter((p) => isTerminal(p) && p.key !== 'completed');
  const edges = new Map<string, { source: AnyStateNode; target: AnyStateNode; labels: string[] }>();
  const exits = new Map<AnyStateNode, string[]>();
  for (const phase of phases) {
    for (const node of [phase, ...descendants(phase)]) {
      for (const e of transitionsOf(node)) {
        const to = phaseOf(e.target);
        if (to === phase) continue;
        if (isTerminal(to) && to.key !== 'completed') {
          exits.set(phase, [...(exits.get(phase) ?? []), `${event(e.label)} → ${to.key}`]);
          continue;
        }
        const key = `${phase.key}>${to.key}`;
        const entry = edges.get(key) ?? { source: phase, target: to, labels: [] };
        entry.labels.push(e.label);
        edges.set(key, entry);
      }
    }
  }
  const first = machine.root.initial?.target?.[0];
  const lines = ['stateDiagram-v2', ...(first ? [`${INDENT}[*] --> ${first.key}`] : [])];
  for (const p of flow) lines.push(`${INDENT}${p.key}`);
  for (const { source, target, labels } of edges.values()) {
    lines.push(`${INDENT}${source.key} --> ${target.key} : ${joined(labels)}`);
  }
  lines.push(`${INDENT}completed --> [*]`);
  for (const [phase, list] of exits) {
    lines.push(
      `${INDENT}note left of ${phase.key}`,
      `${INDENT}${INDENT}${[...new Set(list)].join('<br/>')}`,
      `${INDENT}end note`,
    );
  }
  lines.push(...globalNote(machine, first?.key ?? flow[0]?.key ?? '', 1));
  lines.push(
    `${INDENT}note right of completed`,
    `${INDENT}${INDENT}Other ends: ${early.map((p) => p.key).join(', ')} (final, like completed)`,
    `${INDENT}end note`,
  );
  return lines.join('\n') + '\n';
}

/** One phase: its states and transitions, each exit drawn to a node named after where it leads. */
export function phaseDiagram(machine: AnyStateMachine, phase: AnyStateNode): string {
  const inner = descendants(phase);
  const id = (n: AnyStateNode) => (inner.includes(n) ? n.key : `to_${phaseOf(n).key}`);
  const lines = ['stateDiagram-v2'];
  const initial = phase.initial?.target?.[0];
  if (initial) lines.push(`${INDENT}[*] --> ${initial.key}`);
  for (const n of inner) lines.push(`${INDENT}${n.key}`);
  const outside = new Map<string, string>();
  const edgeLines: string[] = [];
  const seen = new Set<string>();
  for (const n of inner) {
    for (const e of transitionsOf(n)) {
      const target = inner.includes(e.target) ? e.target : phaseOf(e.target);
      if (!inner.includes(target)) outside.set(id(target), target.key);
      const line = `${INDENT}${n.key} --> ${id(target)} : ${cleanLabel(e.label)}`;
      if (seen.has(line)) continue;
      seen.add(line);
      edgeLines.push(line);
    }
  }
  for (const [oid, key] of outside) lines.push(`${INDENT}state "${key}" as ${oid}`);
  lines.push(...edgeLines);
  lines.push(...globalNote(machine, initial?.key ?? inner[0]?.key ?? '', 1));
  return lines.join('\n') + '\n';
}

/** The phases that have states of their own, in document order. */
export function phasesWithStates(machine: AnyStateMachine): AnyStateNode[] {
  return Object.values(machine.root.states).filter((p) => Object.keys(p.states).length > 0);
}
