import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { Capabilities } from '../../machines/schemas.ts';
import { ECHO_CAPABILITIES } from '../../machines/view-schemas.ts';
import { processOutput } from './output.ts';
import { secretFieldIssues } from './payload-secrets.ts';
import { PROVIDER_OPERATIONS, type PredictionState, type Provider, ProviderError } from './types.ts';

const MAX_REMEMBERED = 1000;

/** Options of the echo provider: ids are injectable so tests can pin them. */
export interface EchoProviderOptions {
  newId?: () => string;
}

/** SPEC §5 echo: no network; the output is the submitted payload, verbatim, at once. */
export function createEchoProvider(opts: EchoProviderOptions = {}): Provider {
  const newId = opts.newId ?? randomUUID;
  // Bounded: a long-lived node must not grow without limit; older predictions were processed long ago.
  const finished = new Map<string, PredictionState>();

  const capabilities: Capabilities = structuredClone(ECHO_CAPABILITIES);

  const validate: Provider['validatePayload'] = (_req, caps, payload) => {
    const schema = caps.schema ?? {};
    const changed = Object.keys(payload).filter(
      (f) => f !== 'prompt' && f !== 'attachments' && !isDeepStrictEqual(payload[f], schema[f]),
    );
    return {
      payload,
      issues: secretFieldIssues(payload),
      changed_fields: changed.length,
      prompt_field: 'prompt' in payload ? 'prompt' : null,
      attachment_fields: 'attachments' in payload ? ['attachments'] : [],
    };
  };

  const report = () => {
    const signals = {
      model_identified: true,
      schema_present: true,
      prompt_placed: true,
      attachments_placed: true,
    };
    return { capabilities: structuredClone(capabilities), confidence: 1, signals };
  };

  return {
    name: 'echo',
    tools: ['echo-agent-tool'],
    operations: [...PROVIDER_OPERATIONS],
    configured: () => true,

    async capabilities() {
      return report();
    },
    capabilitiesNow: () => report(),

    buildPayload(req, caps) {
      const payload =
        req.attachments.length > 0
          ? { prompt: req.prompt, attachments: [...req.attachments] }
          : { prompt: req.prompt };
      return validate(req, caps, payload);
    },

    validatePayload: validate,

    async submit(_caps, payload) {
      const id = `echo-${newId()}`;
      const now = new Date().toISOString();
      const output = structuredClone(payload);
      const raw = {
        id,
        model: 'echo',
        status: 'succeeded',
        input: structuredClone(payload),
        output,
        error: null,
        logs: '',
        created_at: now,
        completed_at: now,
      };
      const final: PredictionState = { id, status: 'succeeded', output, error: null, completed_at: now, raw };
      finished.set(id, final);
      if (finished.size > MAX_REMEMBERED) finished.delete(finished.keys().next().value ?? '');
      return { id, status: 'succeeded', created_at: now, raw, final };
    },

    async poll(predictionId) {
      const state = finished.get(predictionId);
      if (!state) throw new ProviderError('provider_error', `Unknown echo prediction ${predictionId}`, 404);
      return state;
    },

    async cancel(predictionId) {
      // An echo prediction completes at submit: there is never anything to cancel.
      const state = finished.get(predictionId);
      if (!state) throw new ProviderError('provider_error', `Unknown echo prediction ${predictionId}`, 404);
      return state;
    },

    processOutput,
    estimateCost: () => 0,
  };
}
