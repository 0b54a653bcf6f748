import type { EventStamp, RunCreated, RunEvent } from '../machines/run-events.ts';
import { step } from '../machines/run-replay.ts';
import { type RunSnapshot, refusal } from '../machines/run-state.ts';
import { workFor } from '../machines/run-work.ts';
import type { EventRow } from '../persistence/types.ts';
import type { ProviderRegistry } from './providers/registry.ts';
import { rowsFor } from './run-records.ts';

/** The stamp of an event (machines/run-events.ts). */
export type Stamp = EventStamp;

/**
 * The next step the state asks for when it needs no I/O (SPEC §8 commit model), as the event
 * that records it; null when the next work is I/O (a submission, a capabilities lookup) or none.
 */
export function localStep(
  snapshot: RunSnapshot,
  providers: ProviderRegistry,
  stamp: (actor: string) => Stamp,
): RunEvent | null {
  const work = workFor(snapshot);
  if (!work) return null;
  const ctx = snapshot.context;
  const provider = providers.get(ctx.provider);
  if (!provider) return null;
  const actor = `provider:${provider.name}`;
  switch (work.type) {
    case 'report_capabilities': {
      const report = provider.capabilitiesNow?.(ctx.request) ?? null;
      return report ? { type: 'capabilities.reported', ...stamp(actor), ...report } : null;
    }
    case 'build_payload': {
      if (!ctx.capabilities) return null;
      const built = provider.buildPayload(ctx.request, ctx.capabilities);
      return {
        type: 'payload.built',
        ...stamp(actor),
        payload: built.payload,
        issues: built.issues,
        changed_fields: built.changed_fields,
      };
    }
    case 'start_submission':
      // The intent commits with the input that caused it; the request goes out after the commit.
      return { type: 'prediction.submitting', ...stamp('system'), attempt: work.attempt };
    default:
      return null;
  }
}

/** A transition chain: the input, then every following step that needs no I/O. */
export interface Chain {
  next: RunSnapshot;
  rows: EventRow[];
  /** The type of the last event applied: what the work after the commit may assume. */
  cause: RunEvent['type'] | 'run.created';
}

/**
 * Apply `more` (events that came with the input, e.g. a prediction created already finished) and
 * then the local steps, to a state the input already moved to. A refused follow-up ends the chain
 * (the run moved elsewhere); the input itself is never undone.
 */
export function extendChain(
  chain: Chain,
  firstSeq: number,
  more: RunEvent[],
  providers: ProviderRegistry,
  stamp: (actor: string) => Stamp,
): Chain {
  let { next, cause } = chain;
  const rows = [...chain.rows];
  const applyOne = (event: RunEvent): boolean => {
    if (refusal(next, event)) return false;
    const after = step(next, event);
    rows.push(...rowsFor(next, after, event, firstSeq + rows.length));
    next = after;
    cause = event.type;
    return true;
  };
  for (const event of more) if (!applyOne(event)) return { next, rows, cause };
  // Bounded: the machine's local steps never loop, but a bug must not hang the process.
  for (let i = 0; i < 16; i++) {
    const event = localStep(next, providers, stamp);
    if (!event || !applyOne(event)) break;
  }
  return { next, rows, cause };
}

/** The chain of a new run: `run.created` and its local steps. */
export function createdChain(
  start: RunSnapshot,
  input: RunCreated,
  providers: ProviderRegistry,
  stamp: (actor: string) => Stamp,
): Chain {
  const first: Chain = { next: start, rows: rowsFor(null, start, input, 1), cause: 'run.created' };
  return extendChain(first, 1, [], providers, stamp);
}
