import { createActor, initialTransition, transition } from 'xstate';
import { RunCreated, RunEvent } from './run-events.ts';
import { runMachine } from './run-machine.ts';
import type { RunSnapshot } from './run-state.ts';

/** The initial snapshot of a run from its `run.created` input. */
export function startRun(input: RunCreated): RunSnapshot {
  return initialTransition(runMachine, input)[0];
}

/** Apply one event (pure). */
export function step(snapshot: RunSnapshot, event: RunEvent): RunSnapshot {
  return transition(runMachine, snapshot, event)[0];
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

/** The JSON form a snapshot is stored in; two snapshots are equal when these are. */
export function persisted(snapshot: RunSnapshot): unknown {
  return JSON.parse(JSON.stringify(runMachine.getPersistedSnapshot(snapshot)));
}

/** Rebuild a snapshot from its persisted JSON. */
export function restore(json: unknown): RunSnapshot {
  // An actor that is never started restores the snapshot without running anything.
  // `input` is required by the machine's types but unused when a snapshot is given.
  return createActor(runMachine, { snapshot: json as never, input: undefined }).getSnapshot();
}
