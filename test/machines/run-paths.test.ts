import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { getShortestPaths, getStateNodes } from 'xstate/graph';
import { hasErrors, openApproval } from '../../machines/run-context.ts';
import type { RunEvent } from '../../machines/run-events.ts';
import { runMachine } from '../../machines/run-machine.ts';
import { persisted, replay } from '../../machines/run-replay.ts';
import { type RunSnapshot, refusal, runStatus } from '../../machines/run-state.ts';
import type { HitlConfigInput } from '../../machines/schemas.ts';
import {
  built,
  createRun,
  issue,
  processed,
  type Run,
  type RunEvents,
  report,
  runEvents,
  uuid,
  where,
} from '../support/run-events.ts';

/** Paths over the run machine (xstate/graph), and replay of every one of them (SPEC §2.6). */

const CONFIG: HitlConfigInput = { policy: 'auto_with_thresholds', max_retries: 1 };

/** One sample event per kind, built for the snapshot it is sent to (approval and prediction ids, attempt). */
function samples(ev: RunEvents, s: RunSnapshot): Array<[string, RunEvent]> {
  const ctx = s.context;
  const open = openApproval(ctx)?.approval_id ?? uuid(0xbad);
  const pid = ctx.prediction?.id ?? 'no-prediction';
  return [
    ['capabilities:confident', ev.capabilities(report(1))],
    ['capabilities:unsure', ev.capabilities(report(0.5))],
    ['built:clean', ev.built(built())],
    ['built:error', ev.built(built({ prompt: '' }, [issue('error')]))],
    ['approve', ev.approve(open)],
    ['reject', ev.reject(open)],
    ['expire', ev.expired(open)],
    ['edit:information', ev.edit(open, { prompt: 'a dog' }, { report: report(1) })],
    [
      'edit:payload-fixed',
      ev.edit(open, { payload: { prompt: 'a dog' } }, { built: built({ prompt: 'a dog' }) }),
    ],
    [
      'edit:payload-broken',
      ev.edit(open, { payload: { prompt: '' } }, { built: built({ prompt: '' }, [issue('error')]) }),
    ],
    ['edit:response', ev.edit(open, { response: 'edited' })],
    ['retry', ev.retry(open)],
    [
      'retry:payload',
      ev.retry(open, { edits: { payload: { steps: 5 } }, built: built({ prompt: 'a cat', steps: 5 }) }),
    ],
    ['submitting', ev.submitting(ctx.attempt + 1)],
    ['created', ev.created(`pred-${ctx.attempt}`)],
    ['succeeded:good', ev.succeeded(pid, processed(['https://cdn.example/1.png'], 1))],
    ['succeeded:poor', ev.succeeded(pid, processed([], 0.25))],
    ['failed', ev.failed(pid, 'failed')],
    ['canceled', ev.failed(pid, 'canceled')],
    ['error:rate_limited', ev.error('rate_limited', 500)],
    ['error:model_validation_error', ev.error('model_validation_error')],
    ['pause', ev.paused()],
    ['resume', ev.resumed()],
    ['cancel', ev.cancelled()],
    ['recovered', ev.recovered()],
  ];
}

/** The state value plus the context that decides what happens next. */
function key(s: RunSnapshot): string {
  const c = s.context;
  return JSON.stringify({
    value: s.value,
    paused: c.paused,
    errors: hasErrors(c.issues),
    auto_retries: c.auto_retries,
    confidence: c.confidence,
    quality: c.processed_response?.quality ?? null,
  });
}

const kindOf = new WeakMap<RunEvent, string>();
const graphEvents = runEvents('2026-03-01T00:00:00.000Z');
const paths = getShortestPaths(runMachine, {
  input: graphEvents.input(CONFIG),
  events: (s) =>
    samples(graphEvents, s).map(([kind, event]) => {
      kindOf.set(event, kind);
      return event;
    }),
  // Only what the host would accept: refused events are never logged.
  filterEvents: (s, event) => refusal(s, event) === null,
  serializeState: key,
});

/** The kinds of events along a generated path. */
function kindsOf(path: (typeof paths)[number]): string[] {
  return path.steps.flatMap(({ event }) => {
    const kind = kindOf.get(event);
    return kind ? [kind] : [];
  });
}

/** Send a path's events, built afresh on a clock of its own, to a run driven like the host does. */
function walk(kinds: string[]): Run {
  const run = createRun(CONFIG, runEvents());
  for (const kind of kinds) {
    const found = samples(run.ev, run.snapshot).find(([k]) => k === kind);
    if (!found) throw new Error(`unknown kind ${kind}`);
    run.accept(found[1]);
  }
  return run;
}

/** Replaying the log gives the live snapshot, both through `step()` and through a started actor. */
function expectReplayed(run: Run) {
  expect(persisted(replay(run.rows))).toEqual(run.persisted());
  const actor = createActor(runMachine, { input: run.input }).start();
  for (const row of run.rows.slice(1)) if (!row.derived) actor.send(row.payload as RunEvent);
  expect(JSON.parse(JSON.stringify(actor.getPersistedSnapshot()))).toEqual(run.persisted());
  actor.stop();
}

/** `run.payload_review.building`-style ids of a snapshot's active state nodes. */
function nodeIds(s: RunSnapshot): string[] {
  const value = s.value;
  if (typeof value === 'string') return [`run.${value}`];
  return Object.entries(value).flatMap(([step, inner]) => [`run.${step}`, `run.${step}.${String(inner)}`]);
}

describe('generated paths', () => {
  it('reach every state node of the machine, every leaf and every final state', () => {
    const reached = new Set(paths.flatMap((p) => nodeIds(p.state)));
    const all = getStateNodes(runMachine).map((n) => n.id);
    expect([...reached].sort()).toEqual([...all].sort());
    for (const status of [
      'queued',
      'running',
      'awaiting_human',
      'paused',
      'completed',
      'failed',
      'cancelled',
      'expired',
    ]) {
      expect(
        paths.some((p) => runStatus(p.state) === status),
        status,
      ).toBe(true);
    }
  });

  it('replay from run.created to the live snapshot, skipping derived rows', () => {
    expect(paths.length).toBeGreaterThan(50);
    let derived = 0;
    for (const path of paths) {
      const run = walk(kindsOf(path));
      expect(key(run.snapshot), kindsOf(path).join(' → ')).toBe(key(path.state));
      derived += run.rows.filter((r) => r.derived).length;
      expectReplayed(run);
    }
    expect(derived).toBeGreaterThan(0);
  });
});

/** Paths that walk each loop of the machine at least once, and where they must end. */
const loops: Array<[string, HitlConfigInput, string[], string]> = [
  [
    'a payload edit that leaves errors, then one that fixes them',
    { policy: 'auto' },
    [
      'capabilities:confident',
      'built:error',
      'edit:payload-broken',
      'edit:payload-broken',
      'edit:payload-fixed',
    ],
    'api_call.ready',
  ],
  [
    'a response retry, then an approval',
    { policy: 'require_human', allowed_steps: ['response_review'] },
    [
      'capabilities:confident',
      'built:clean',
      'submitting',
      'created',
      'succeeded:good',
      'retry:payload',
    ].concat([
      'submitting',
      'created',
      'succeeded:good',
      'retry',
      'submitting',
      'created',
      'succeeded:good',
      'approve',
    ]),
    'completed',
  ],
  [
    'error_recovery retry, then error_recovery edits',
    { policy: 'auto' },
    [
      'capabilities:confident',
      'built:clean',
      'submitting',
      'error:model_validation_error',
      'retry',
      'submitting',
    ]
      .concat([
        'error:model_validation_error',
        'edit:payload-broken',
        'edit:payload-fixed',
        'submitting',
        'created',
      ])
      .concat(['succeeded:good']),
    'completed',
  ],
  [
    'automatic backoff retries until they run out, then a human retry',
    { policy: 'auto', max_retries: 2 },
    [
      'capabilities:confident',
      'built:clean',
      'submitting',
      'error:rate_limited',
      'submitting',
      'error:rate_limited',
    ]
      .concat([
        'submitting',
        'error:rate_limited',
        'retry',
        'submitting',
        'error:rate_limited',
        'submitting',
        'created',
      ])
      .concat(['succeeded:poor']),
    'completed',
  ],
  [
    'pause and resume around every result',
    { policy: 'require_human' },
    [
      'pause',
      'capabilities:unsure',
      'resume',
      'approve',
      'pause',
      'built:clean',
      'resume',
      'approve',
      'pause',
    ]
      .concat([
        '!submitting',
        'resume',
        'submitting',
        'pause',
        'created',
        'succeeded:good',
        'recovered',
        'resume',
      ])
      .concat(['edit:response']),
    'completed',
  ],
];

describe('explicit loop paths', () => {
  for (const [name, config, kinds, end] of loops) {
    it(`${name} ends at ${end} and replays exactly`, () => {
      const run = createRun(config, runEvents());
      for (const step of kinds) {
        // `!kind`: an event the run must refuse here (e.g. a submission while paused).
        const kind = step.replace(/^!/, '');
        const found = samples(run.ev, run.snapshot).find(([k]) => k === kind);
        if (!found) throw new Error(`unknown kind ${kind}`);
        const refused = run.send(found[1]);
        expect(refused === null, `${step} at ${where(run.snapshot)}`).toBe(!step.startsWith('!'));
      }
      expect(where(run.snapshot)).toBe(end);
      expect(run.rows.some((r) => r.derived)).toBe(true);
      expectReplayed(run);
    });
  }
});
