import { createActor } from 'xstate';
import { type ApprovalSnapshot, approvalMachine } from './approval-machine.ts';
import { RunCreated, RunEvent } from './run-events.ts';
import { runMachine } from './run-machine.ts';
import type { RunSnapshot } from './run-state.ts';

type Scope = Parameters<typeof runMachine.transition>[2];
let inert: Scope | null = null;

/**
 * One inert actor scope for every transition: actions are not executed (as with XState's
 * `transition`, which only collects them; this machine spawns, invokes and delays nothing).
 * XState's `transition()` and `initialTransition()` build a new actor per call, and that actor
 * computes an initial state without input: an exception thrown and caught on every step, the
 * costliest part of a transition. The actor here is made once, from a real input or snapshot.
 */
function scope(from: { input: RunCreated } | { snapshot: RunSnapshot }): Scope {
  if (inert) return inert;
  const self =
    'input' in from
      ? createActor(runMachine, { input: from.input })
      : createActor(runMachine, {
          snapshot: runMachine.getPersistedSnapshot(from.snapshot) as never,
          input: undefined as never,
        });
  inert = {
    self,
    system: self.system,
    id: '',
    sessionId: '',
    logger: () => {},
    defer: () => {},
    emit: () => {},
    stopChild: () => {},
    actionExecutor: () => {},
  } as unknown as Scope;
  return inert;
}

/**
 * XState's `assign` builds each new context with `Object.assign({}, context, update)`, which
 * leaves an object of this many fields in V8's dictionary mode (slow properties): every later
 * assign, read and serialisation of the run paid for it (2-3x the cost of a step). A spread copy
 * has fast properties. The snapshot was just made here and nobody holds it yet; the copy is equal.
 */
function withFastContext(next: RunSnapshot, prev?: RunSnapshot): RunSnapshot {
  if (next !== prev && next.context !== prev?.context) next.context = { ...next.context };
  return next;
}

/** The initial snapshot of a run from its `run.created` input. */
export function startRun(input: RunCreated): RunSnapshot {
  return withFastContext(runMachine.getInitialSnapshot(scope({ input }), input));
}

/** Apply one event (pure). */
export function step(snapshot: RunSnapshot, event: RunEvent): RunSnapshot {
  return withFastContext(runMachine.transition(snapshot, event, scope({ snapshot })), snapshot);
}

/** Fold logged input events (the `run.created` payload first) into a snapshot; derived rows are skipped. */
export function replay(
  rows: ReadonlyArray<{ type: string; payload: unknown; derived: boolean }>,
): RunSnapshot {
  const [first, ...rest] = rows;
  if (first?.type !== 'run.created') throw new Error('A run log starts with run.created');
  let snapshot = startRun(RunCreated.parse(first.payload));
  for (const row of rest) {
    if (row.derived) continue;
    snapshot = step(snapshot, RunEvent.parse(row.payload));
  }
  return snapshot;
}

/**
 * XState's persisted form of a snapshot (`getPersistedSnapshot`), built directly when the run
 * has no children and no history (always, for this machine): XState's walks the whole context
 * looking for actor references to replace, and copies the snapshot through a rest and a spread
 * (slow on Node 20), on every commit. Anything else is left to XState.
 */
export function persistedSnapshot(snapshot: RunSnapshot): object {
  for (const _ in snapshot.children) return runMachine.getPersistedSnapshot(snapshot);
  for (const _ in snapshot.historyValue) return runMachine.getPersistedSnapshot(snapshot);
  return {
    status: snapshot.status,
    output: snapshot.output,
    error: snapshot.error,
    value: snapshot.value,
    historyValue: {},
    context: snapshot.context,
    children: {},
  };
}

/** The JSON form a snapshot is stored in; two snapshots are equal when these are. */
export function persisted(snapshot: RunSnapshot): unknown {
  return JSON.parse(JSON.stringify(runMachine.getPersistedSnapshot(snapshot)));
}

/** Rebuild a snapshot from its persisted JSON (the one place XState snapshots are restored). */
export function restore(json: unknown): RunSnapshot {
  // An actor that is never started restores the snapshot without running anything.
  // `input` is required by the machine's types but unused when a snapshot is given.
  return createActor(runMachine, { snapshot: json as never, input: undefined }).getSnapshot();
}

/** Rebuild a standalone approval's snapshot from its persisted JSON (as `restore`). */
export function restoreApproval(json: unknown): ApprovalSnapshot {
  return createActor(approvalMachine, { snapshot: json as never, input: undefined as never }).getSnapshot();
}
