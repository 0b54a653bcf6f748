import { describe, expect, it } from 'vitest';
import type { HitlConfigInput, Policy, ValidationIssue } from '../../machines/schemas.ts';
import { built, createRun, issue, processed, report, where } from '../support/run-events.ts';

/** SPEC §2.3: when a checkpoint stops for a human, cell by cell. */

type ReviewStep = 'information_review' | 'payload_review' | 'response_review';

interface Cell {
  step: ReviewStep;
  policy: Policy;
  when: string;
  config?: HitlConfigInput;
  confidence?: number;
  cost?: number | null;
  issues?: ValidationIssue[];
  changed?: number;
  quality?: number;
  stops: boolean;
}

const WHERE_IT_STOPS: Record<ReviewStep, string> = {
  information_review: 'information_review.awaitingReview',
  payload_review: 'payload_review.awaitingReview',
  response_review: 'response_review.awaitingReview',
};
const WHERE_IT_GOES_ON: Record<ReviewStep, string> = {
  information_review: 'payload_review.building',
  payload_review: 'api_call.ready',
  response_review: 'completed',
};

/** Drive a run up to the decision of `cell.step` (approving earlier stops) and say where it went. */
function outcome(cell: Cell): string {
  const run = createRun({ policy: cell.policy, ...cell.config });
  const { ev } = run;
  const approveIfAsked = () => {
    if (run.snapshot.hasTag('needsHuman')) run.accept(ev.approve(run.openId));
  };
  run.accept(ev.capabilities(report(cell.confidence ?? 1, cell.cost === undefined ? 0 : cell.cost)));
  if (cell.step === 'information_review') return where(run.snapshot);
  approveIfAsked();
  run.accept(ev.built(built({ prompt: 'a cat', steps: 30 }, cell.issues ?? [], cell.changed ?? 0)));
  if (cell.step === 'payload_review') return where(run.snapshot);
  approveIfAsked();
  run.accept(
    ev.submitting(1),
    ev.created('p1'),
    ev.succeeded('p1', processed(['https://x/y.png'], cell.quality ?? 1)),
  );
  return where(run.snapshot);
}

const only = (...steps: ReviewStep[]): HitlConfigInput => ({ allowed_steps: steps });
const thresholds = (t: HitlConfigInput): HitlConfigInput => t;
const ERR = [issue('error')];

const cells: Cell[] = [
  // information_review
  { step: 'information_review', policy: 'auto', when: 'confidence is 0', confidence: 0, stops: false },
  { step: 'information_review', policy: 'require_human', when: 'it is in allowed_steps', stops: true },
  {
    step: 'information_review',
    policy: 'require_human',
    when: 'it is not in allowed_steps',
    config: only('payload_review', 'response_review'),
    confidence: 0,
    stops: false,
  },
  {
    step: 'information_review',
    policy: 'auto_with_thresholds',
    when: 'confidence 0.89 < 0.9',
    confidence: 0.89,
    stops: true,
  },
  {
    step: 'information_review',
    policy: 'auto_with_thresholds',
    when: 'confidence equals 0.9',
    confidence: 0.9,
    stops: false,
  },
  {
    step: 'information_review',
    policy: 'auto_with_thresholds',
    when: 'confidence 0.91 > 0.9',
    confidence: 0.91,
    stops: false,
  },
  {
    step: 'information_review',
    policy: 'auto_with_thresholds',
    when: 'confidence 0.5 ≥ a custom threshold of 0.5',
    config: thresholds({ auto_approve_confidence_threshold: 0.5 }),
    confidence: 0.5,
    stops: false,
  },
  // payload_review
  { step: 'payload_review', policy: 'auto', when: 'the payload is clean', stops: false },
  { step: 'payload_review', policy: 'auto', when: 'an error issue is left', issues: ERR, stops: true },
  {
    step: 'payload_review',
    policy: 'auto',
    when: 'only warnings and infos are left',
    issues: [issue('warning'), issue('info')],
    stops: false,
  },
  {
    step: 'payload_review',
    policy: 'auto',
    when: 'many fields changed and the cost is high',
    config: thresholds({ max_payload_changes: 0, review_thresholds: { max_estimated_cost: 0 } }),
    changed: 50,
    cost: 100,
    stops: false,
  },
  { step: 'payload_review', policy: 'require_human', when: 'it is in allowed_steps', stops: true },
  {
    step: 'payload_review',
    policy: 'require_human',
    when: 'it is not in allowed_steps',
    config: only('response_review'),
    stops: false,
  },
  {
    step: 'payload_review',
    policy: 'require_human',
    when: 'it is not in allowed_steps but an error issue is left',
    config: only('response_review'),
    issues: ERR,
    stops: true,
  },
  { step: 'payload_review', policy: 'auto_with_thresholds', when: 'the payload is clean', stops: false },
  {
    step: 'payload_review',
    policy: 'auto_with_thresholds',
    when: 'an error issue is left',
    issues: ERR,
    stops: true,
  },
  {
    step: 'payload_review',
    policy: 'auto_with_thresholds',
    when: '4 fields changed (max 5)',
    changed: 4,
    stops: false,
  },
  {
    step: 'payload_review',
    policy: 'auto_with_thresholds',
    when: '5 fields changed (max 5)',
    changed: 5,
    stops: false,
  },
  {
    step: 'payload_review',
    policy: 'auto_with_thresholds',
    when: '6 fields changed (max 5)',
    changed: 6,
    stops: true,
  },
  ...(
    [
      [0.99, false],
      [1, false],
      [1.01, true],
    ] as const
  ).map(
    ([cost, stops]): Cell => ({
      step: 'payload_review',
      policy: 'auto_with_thresholds',
      when: `the estimated cost is ${cost} (max 1)`,
      config: thresholds({ review_thresholds: { max_estimated_cost: 1 } }),
      cost,
      stops,
    }),
  ),
  {
    step: 'payload_review',
    policy: 'auto_with_thresholds',
    when: 'the estimated cost is null, even with a max of 0',
    config: thresholds({ review_thresholds: { max_estimated_cost: 0 } }),
    cost: null,
    stops: false,
  },
  {
    step: 'payload_review',
    policy: 'auto_with_thresholds',
    when: 'the cost is high but max_estimated_cost is null (the default)',
    cost: 1000,
    stops: false,
  },
  // response_review
  { step: 'response_review', policy: 'auto', when: 'quality is 0', quality: 0, stops: false },
  { step: 'response_review', policy: 'require_human', when: 'it is in allowed_steps', stops: true },
  {
    step: 'response_review',
    policy: 'require_human',
    when: 'it is not in allowed_steps',
    config: only('information_review', 'payload_review'),
    quality: 0,
    stops: false,
  },
  {
    step: 'response_review',
    policy: 'auto_with_thresholds',
    when: 'quality 0.69 < 0.7',
    quality: 0.69,
    stops: true,
  },
  {
    step: 'response_review',
    policy: 'auto_with_thresholds',
    when: 'quality equals 0.7',
    quality: 0.7,
    stops: false,
  },
  {
    step: 'response_review',
    policy: 'auto_with_thresholds',
    when: 'quality 0.71 > 0.7',
    quality: 0.71,
    stops: false,
  },
];

describe('SPEC §2.3 policy table', () => {
  for (const cell of cells) {
    const verb = cell.stops ? 'stops for a human' : 'goes on by itself';
    it(`${cell.step} under ${cell.policy} ${verb} when ${cell.when}`, () => {
      expect(outcome(cell)).toBe(cell.stops ? WHERE_IT_STOPS[cell.step] : WHERE_IT_GOES_ON[cell.step]);
    });
  }

  const policies: Array<[Policy, HitlConfigInput]> = [
    ['auto', {}],
    ['require_human', only()],
    ['auto_with_thresholds', { auto_approve_confidence_threshold: 0 }],
  ];
  for (const [policy, config] of policies) {
    it(`error_recovery stops for a human under ${policy}, whatever allowed_steps says`, () => {
      const run = createRun({ policy, ...config });
      const { ev } = run;
      run.accept(ev.capabilities(), ev.built(), ev.submitting(1), ev.error('model_validation_error'));
      expect(where(run.snapshot)).toBe('api_call.awaitingReview');
      expect(run.context.approvals.at(-1)?.checkpoint_type).toBe('error_recovery');
    });

    it(`a payload with an error issue never reaches the provider under ${policy}`, () => {
      const run = createRun({ policy, ...config });
      const { ev } = run;
      run.accept(ev.capabilities(), ev.built(built({ prompt: '' }, [issue('error')])));
      expect(where(run.snapshot)).toBe('payload_review.awaitingReview');
      expect(run.send(ev.approve(run.openId))).toBe('invalid_action');
      expect(run.send(ev.submitting(1))).toBe('invalid_transition');
    });
  }
});
