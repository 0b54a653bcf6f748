import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { createActor, type Snapshot } from 'xstate';
import type { RunEvent } from '../../machines/run-events.ts';
import { runMachine } from '../../machines/run-machine.ts';
import { persisted, persistedSnapshot, restore, step } from '../../machines/run-replay.ts';
import { refusal, runStatus } from '../../machines/run-state.ts';
import { timersFor, workFor } from '../../machines/run-work.ts';
import { createRun, type Run, walkTo, where } from '../support/run-events.ts';

/** A stored snapshot at every waiting state comes back and goes on exactly like the live one (SPEC §2.6). */

interface Waiting {
  name: string;
  reach: (run: Run) => void;
  /** The event that moves the run on from here, and where it goes. */
  next: (run: Run) => RunEvent;
  goesTo: string;
}

const waits: Waiting[] = [
  {
    name: 'information_review.awaitingReview',
    reach: (run) => walkTo(run, 'information_review.awaitingReview'),
    next: (run) => run.ev.approve(run.openId),
    goesTo: 'payload_review.building',
  },
  {
    name: 'payload_review.building',
    reach: (run) => walkTo(run, 'payload_review.building'),
    next: (run) => run.ev.built(),
    goesTo: 'payload_review.awaitingReview',
  },
  {
    name: 'payload_review.awaitingReview',
    reach: (run) => walkTo(run, 'payload_review.awaitingReview'),
    next: (run) => run.ev.reject(run.openId),
    goesTo: 'cancelled',
  },
  {
    name: 'api_call.backoff',
    reach: (run) => walkTo(run, 'api_call.backoff'),
    next: (run) => run.ev.submitting(run.context.attempt + 1),
    goesTo: 'api_call.submitting',
  },
  {
    name: 'api_call.waiting',
    reach: (run) => walkTo(run, 'api_call.waiting'),
    next: (run) => run.ev.succeeded(run.context.prediction?.id),
    goesTo: 'response_review.awaitingReview',
  },
  {
    name: 'api_call.awaitingReview (error_recovery)',
    reach: (run) => walkTo(run, 'api_call.awaitingReview'),
    next: (run) => run.ev.retry(run.openId),
    goesTo: 'api_call.ready',
  },
  {
    name: 'response_review.awaitingReview',
    reach: (run) => walkTo(run, 'response_review.awaitingReview'),
    next: (run) => run.ev.edit(run.openId, { response: 'fine' }),
    goesTo: 'completed',
  },
  {
    name: 'paused at api_call.ready',
    reach: (run) => {
      walkTo(run, 'api_call.ready');
      run.accept(run.ev.paused());
    },
    next: (run) => run.ev.resumed(),
    goesTo: 'api_call.ready',
  },
  {
    name: 'paused with a payload built (payload_review.deciding)',
    reach: (run) => {
      walkTo(run, 'payload_review.building');
      run.accept(run.ev.paused(), run.ev.built());
    },
    next: (run) => run.ev.resumed(),
    goesTo: 'payload_review.awaitingReview',
  },
];

/** The snapshot as it comes back from storage: JSON text, parsed, restored. */
const fromStorage = (run: Run) => JSON.parse(JSON.stringify(persisted(run.snapshot)));

describe('restoring a stored snapshot', () => {
  for (const w of waits) {
    it(`at ${w.name} gives the same state, work and timers`, () => {
      const run = createRun({ policy: 'require_human' });
      w.reach(run);
      const restored = restore(fromStorage(run));
      expect(restored.status).toBe('active');
      expect(persisted(restored)).toEqual(run.persisted());
      expect(runStatus(restored)).toBe(runStatus(run.snapshot));
      expect(workFor(restored)).toEqual(workFor(run.snapshot));
      expect(timersFor(restored)).toEqual(timersFor(run.snapshot));
    });

    it(`at ${w.name} takes the next event exactly like the live snapshot`, () => {
      const run = createRun({ policy: 'require_human' });
      w.reach(run);
      const restored = restore(fromStorage(run));
      const event = w.next(run);
      expect(refusal(restored, event)).toBeNull();
      const live = step(run.snapshot, event);
      const again = step(restored, event);
      expect(where(again)).toBe(w.goesTo);
      expect(persisted(again)).toEqual(persisted(live));
      // Refusals agree too: a decision on a made-up approval, a second pause.
      const stale = run.ev.reject('00000000-0000-4000-8000-0000000fffff');
      expect(refusal(restored, stale)).toEqual(refusal(run.snapshot, stale));
      const pause = run.ev.paused();
      expect(refusal(restored, pause)).toEqual(refusal(run.snapshot, pause));
    });

    it(`at ${w.name} goes on in an actor started from the stored JSON`, () => {
      const run = createRun({ policy: 'require_human' });
      w.reach(run);
      const actor = createActor(runMachine, {
        snapshot: fromStorage(run) as Snapshot<unknown>,
        input: undefined,
      });
      actor.start();
      const event = w.next(run);
      actor.send(event);
      const live = run.accept(event);
      expect(where(actor.getSnapshot())).toBe(w.goesTo);
      expect(JSON.parse(JSON.stringify(actor.getPersistedSnapshot()))).toEqual(persisted(live));
      actor.stop();
    });
  }

  it('a restored snapshot can be stored and restored again', () => {
    const run = createRun({ policy: 'require_human' });
    walkTo(run, 'response_review.awaitingReview');
    const twice = restore(JSON.parse(JSON.stringify(persisted(restore(fromStorage(run))))));
    expect(persisted(twice)).toEqual(run.persisted());
  });

  it('a snapshot naming a state the machine does not have restores as an error, not a run', () => {
    const run = createRun({ policy: 'require_human' });
    const json = { ...fromStorage(run), value: { review_everything: 'awaitingReview' } };
    expect(() => restore(json).status).not.toThrow();
    expect(restore(json).status).toBe('error');
  });
});

describe('the stored form of a snapshot', () => {
  for (const w of waits) {
    it(`at ${w.name} is what XState persists, and also after the next event`, () => {
      const run = createRun({ policy: 'require_human' });
      w.reach(run);
      const json = (v: unknown) => JSON.parse(JSON.stringify(v));
      expect(json(persistedSnapshot(run.snapshot))).toEqual(
        json(runMachine.getPersistedSnapshot(run.snapshot)),
      );
      const next = run.accept(w.next(run));
      expect(json(persistedSnapshot(next))).toEqual(json(runMachine.getPersistedSnapshot(next)));
    });
  }
});

describe('the snapshots a step makes', () => {
  it('keep the context in fast (not dictionary-mode) properties, as plain objects of the same content', () => {
    setFlagsFromString('--allow-natives-syntax');
    const hasFastProperties = new Function('o', 'return %HasFastProperties(o)') as (o: unknown) => boolean;
    const run = createRun({ policy: 'require_human' });
    expect(hasFastProperties(run.snapshot.context)).toBe(true);
    walkTo(run, 'response_review.awaitingReview');
    expect(hasFastProperties(run.snapshot.context)).toBe(true);
    expect(persisted(restore(fromStorage(run)))).toEqual(run.persisted());
  });
});
