import { describe, expect, it } from 'vitest';
import { createReplicateProvider } from '../../../actors/providers/replicate.ts';
import type { Capabilities } from '../../../machines/schemas.ts';
import { type SchemaFixture, schemaFixture } from '../../support/replicate-schemas.ts';
import { request } from './fixtures.ts';

/** Payloads checked against real published Replicate input schemas (test/fixtures/replicate). */

const provider = createReplicateProvider({});

async function capsOf(fx: SchemaFixture): Promise<Capabilities> {
  const config = { name: fx.model, latest_version: { id: fx.id, openapi_schema: fx.openapi_schema } };
  return (await provider.capabilities(request(config, 'x'))).capabilities;
}

function errorsOf(caps: Capabilities, payload: Record<string, unknown>) {
  return provider
    .validatePayload(request({}, 'x'), caps, payload)
    .issues.filter((i) => i.severity === 'error');
}

interface Case {
  kind: string;
  edit: Record<string, unknown>;
  field: string;
  /** Words the suggested fix must hold: the allowed values or range. */
  allowed: string;
}

const MODELS: Array<{ fixture: SchemaFixture; valid: Record<string, unknown>; cases: Case[] }> = [
  {
    fixture: schemaFixture('stability-ai-sdxl'),
    valid: {
      prompt: 'a red fox in the snow',
      negative_prompt: 'blurry',
      image: 'https://files.example.com/fox.png?sig=abc',
      mask: 'data:image/png;base64,iVBORw0KGgo=',
      width: 768,
      height: 768,
      num_outputs: 4,
      scheduler: 'DDIM',
      num_inference_steps: 1,
      guidance_scale: 50,
      prompt_strength: 0,
      refine: 'base_image_refiner',
      high_noise_frac: 1,
      lora_scale: 0.6,
      apply_watermark: false,
      seed: 42,
    },
    cases: [
      {
        kind: 'enum through allOf/$ref',
        edit: { scheduler: 'EULER' },
        field: 'scheduler',
        allowed: 'one of DDIM, DPMSolverMultistep, HeunDiscrete, KarrasDPM, K_EULER_ANCESTRAL, K_EULER, PNDM',
      },
      {
        kind: 'enum through allOf/$ref',
        edit: { refine: 'best' },
        field: 'refine',
        allowed: 'one of no_refiner, expert_ensemble_refiner, base_image_refiner',
      },
      { kind: 'minimum', edit: { num_outputs: 0 }, field: 'num_outputs', allowed: 'an integer from 1 to 4' },
      {
        kind: 'maximum',
        edit: { num_inference_steps: 501 },
        field: 'num_inference_steps',
        allowed: 'an integer from 1 to 500',
      },
      {
        kind: 'number range',
        edit: { guidance_scale: 0.5 },
        field: 'guidance_scale',
        allowed: 'a number from 1 to 50',
      },
      {
        kind: 'format uri',
        edit: { image: 'fox.png' },
        field: 'image',
        allowed: 'an http(s) URL or a data: URI',
      },
      { kind: 'type', edit: { width: '1024' }, field: 'width', allowed: 'an integer' },
    ],
  },
  {
    fixture: schemaFixture('bytedance-seedance-1-pro'),
    valid: {
      prompt: 'a paper boat drifting down a gutter in the rain',
      image: 'https://files.example.com/boat.jpg',
      last_frame_image: null,
      duration: 12,
      resolution: '720p',
      aspect_ratio: '9:16',
      fps: 24,
      camera_fixed: true,
      seed: null,
    },
    cases: [
      { kind: 'enum', edit: { resolution: '4k' }, field: 'resolution', allowed: 'one of 480p, 720p, 1080p' },
      { kind: 'maximum', edit: { duration: 30 }, field: 'duration', allowed: 'an integer from 3 to 12' },
      { kind: 'minimum', edit: { duration: 2 }, field: 'duration', allowed: 'an integer from 3 to 12' },
      { kind: 'integer enum', edit: { fps: 30 }, field: 'fps', allowed: 'exactly 24' },
      {
        kind: 'integer type',
        edit: { duration: 5.5 },
        field: 'duration',
        allowed: 'an integer from 3 to 12',
      },
      {
        kind: 'nullable format uri',
        edit: { last_frame_image: 'ftp://files.example.com/end.jpg' },
        field: 'last_frame_image',
        allowed: 'an http(s) URL or a data: URI or null',
      },
      {
        kind: 'not nullable',
        edit: { aspect_ratio: null },
        field: 'aspect_ratio',
        allowed: 'Remove the field',
      },
      { kind: 'required', edit: { prompt: undefined }, field: 'prompt', allowed: 'prompt' },
    ],
  },
  {
    fixture: schemaFixture('openai-gpt-4o'),
    valid: {
      prompt: 'Describe these two pictures',
      system_prompt: null,
      messages: [{ role: 'user', content: 'Hello' }],
      image_input: ['https://files.example.com/a.png', 'data:image/png;base64,iVBORw0KGgo='],
      temperature: 2,
      top_p: 0,
      frequency_penalty: -2,
      presence_penalty: 2,
      max_completion_tokens: 256,
    },
    cases: [
      { kind: 'maximum', edit: { temperature: 2.5 }, field: 'temperature', allowed: 'a number from 0 to 2' },
      {
        kind: 'minimum',
        edit: { frequency_penalty: -3 },
        field: 'frequency_penalty',
        allowed: 'a number from -2 to 2',
      },
      {
        kind: 'items format uri',
        edit: { image_input: ['https://files.example.com/a.png', 'a.png'] },
        field: 'image_input[1]',
        allowed: 'an http(s) URL or a data: URI',
      },
      { kind: 'items type', edit: { messages: ['Hello'] }, field: 'messages[0]', allowed: 'an object' },
      {
        kind: 'array type',
        edit: { image_input: 'https://files.example.com/a.png' },
        field: 'image_input',
        allowed: 'a list, each an http(s) URL or a data: URI',
      },
      {
        kind: 'integer type',
        edit: { max_completion_tokens: 10.5 },
        field: 'max_completion_tokens',
        allowed: 'an integer',
      },
    ],
  },
];

describe.each(MODELS)('the published input schema of $fixture.model', ({ fixture, valid, cases }) => {
  it('passes a valid payload, every field of which the recorded input schema knows', async () => {
    const caps = await capsOf(fixture);
    expect(Object.keys(valid).filter((f) => !(f in (caps.input_schema?.properties ?? {})))).toEqual([]);
    expect(errorsOf(caps, valid)).toEqual([]);
    expect(provider.validatePayload(request({}, 'x'), caps, valid).issues).toEqual([]);
  });

  it.each(cases)('makes $kind an error naming $field and what it takes', async ({ edit, field, allowed }) => {
    const caps = await capsOf(fixture);
    const payload = { ...valid, ...edit };
    for (const [k, v] of Object.entries(edit)) if (v === undefined) delete payload[k];
    const errors = errorsOf(caps, payload);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ field, severity: 'error' });
    expect(`${errors[0]?.issue} ${errors[0]?.suggested_fix}`).toContain(field);
    expect(errors[0]?.suggested_fix).toContain(allowed);
  });
});
