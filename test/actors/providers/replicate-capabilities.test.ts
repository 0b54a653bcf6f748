import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createReplicateProvider } from '../../../actors/providers/replicate.ts';
import { type FakeReplicate, startFakeReplicate } from '../../support/fake-replicate.ts';
import { schemaFixture } from '../../support/replicate-schemas.ts';
import { KONTEXT, NANO_BANANA, OPENAPI, request, SDXL } from './fixtures.ts';

let fake: FakeReplicate;
const SEEDANCE = schemaFixture('bytedance-seedance-1-pro');
beforeAll(async () => {
  fake = await startFakeReplicate({
    models: {
      [SEEDANCE.model]: { latest_version: { id: SEEDANCE.id, openapi_schema: SEEDANCE.openapi_schema } },
      'acme/flux-dev': {
        description: 'Text to image',
        latest_version: { id: 'ver-latest', openapi_schema: OPENAPI },
      },
    },
  });
});
beforeEach(() => fake.reset());
afterAll(() => fake.close());

describe('Replicate capabilities from example_input', () => {
  it('reports model, version, schema, types, operation type, cost and full confidence', async () => {
    const provider = createReplicateProvider({});
    const report = await provider.capabilities(
      request(KONTEXT, 'Make it snowy', ['https://f.example.com/a.png']),
    );
    expect(report.capabilities).toEqual({
      provider: 'replicate',
      model: 'black-forest-labs/flux-kontext-pro',
      version: 'ver-kontext-1',
      schema: KONTEXT.example_input,
      required: [],
      types: {
        prompt: 'string',
        input_image: 'string',
        aspect_ratio: 'string',
        output_format: 'string',
        safety_tolerance: 'number',
      },
      operation_type: 'image-to-image',
      estimated_cost: 0.04,
      schema_summary: {
        source: 'example_input',
        required: [],
        media_fields: ['input_image'],
        prompt_field: 'prompt',
        attachments: [{ index: 0, from: 'attachments', field: 'input_image' }],
        constraints: {
          prompt: 'text',
          input_image: 'an http(s) URL or a data: URI',
          aspect_ratio: 'text',
          output_format: 'text',
          safety_tolerance: 'a number',
        },
      },
    });
    expect(report.confidence).toBe(1);
  });

  it('takes model_name and a version object as aliases', async () => {
    const config = {
      model_name: 'stability-ai/sdxl',
      version: { id: 'ver-sdxl-1' },
      example_input: SDXL.example_input,
    };
    const { capabilities } = await createReplicateProvider({}).capabilities(request(config, 'x'));
    expect([capabilities.model, capabilities.version, capabilities.operation_type]).toEqual([
      'stability-ai/sdxl',
      'ver-sdxl-1',
      'text-to-image',
    ]);
  });

  it('lowers confidence for each missing signal', async () => {
    const provider = createReplicateProvider({});
    const unplaced = await provider.capabilities(
      request({ name: 'a/b', example_input: { text: '', max_tokens: 5 } }, 'hi', [
        'https://f.example.com/x.pdf',
      ]),
    );
    expect(unplaced.signals).toEqual({
      model_identified: true,
      schema_present: true,
      prompt_placed: true,
      attachments_placed: false,
    });
    expect(unplaced.confidence).toBe(0.75);
    const bare = await provider.capabilities(request({ example_input: { image: '' } }, 'hi'));
    expect(bare.signals).toEqual({
      model_identified: false,
      schema_present: true,
      prompt_placed: false,
      attachments_placed: true,
    });
    expect(bare.confidence).toBe(0.5);
  });

  it('estimates the cost from cost_per_run, else null', () => {
    const provider = createReplicateProvider({});
    expect(provider.estimateCost(request(KONTEXT, 'x'))).toBe(0.04);
    expect(provider.estimateCost(request(NANO_BANANA, 'x'))).toBeNull();
    expect(provider.estimateCost(request({ cost_per_run: '0.5' }, 'x'))).toBeNull();
  });

  it('guesses the operation type from fields and words, falling back to prediction', async () => {
    const provider = createReplicateProvider({});
    const op = async (config: Record<string, unknown>) =>
      (await provider.capabilities(request(config, 'x'))).capabilities.operation_type;
    expect(await op(NANO_BANANA)).toBe('image-to-image');
    expect(
      await op({ description: 'Image to video', example_input: { prompt: '', first_frame_image: '' } }),
    ).toBe('image-to-video');
    expect(await op({ description: 'Generate videos', example_input: { prompt: '' } })).toBe('text-to-video');
    expect(await op({ example_input: { prompt: '', max_tokens: 512, temperature: 0.7 } })).toBe(
      'text-generation',
    );
    expect(await op({ example_input: { audio: 'https://x.example/a.mp3' } })).toBe('audio-to-text');
    expect(await op({ example_input: { seed: 1 } })).toBe('prediction');
  });
});

describe('Replicate capabilities from openapi_schema', () => {
  it('fetches the latest version schema once when a token is configured and pins its version', async () => {
    const provider = createReplicateProvider({ token: 'r8_test', baseUrl: fake.url });
    const req = request({ name: 'acme/flux-dev' }, 'A red fox');
    const first = await provider.capabilities(req);
    await provider.capabilities(req);
    expect(fake.received.modelGets).toEqual(['acme/flux-dev']);
    expect(first.capabilities).toMatchObject({
      version: 'ver-latest',
      schema: { prompt: null, image: null, guidance: 3.5, num_outputs: 1, aspect_ratio: '1:1' },
      required: ['prompt'],
      types: {
        prompt: 'string',
        image: 'string',
        guidance: 'number',
        num_outputs: 'integer',
        aspect_ratio: 'string',
      },
      operation_type: 'image-to-image',
    });
    expect(Object.keys(first.capabilities.schema ?? {})).toEqual([
      'prompt',
      'image',
      'guidance',
      'num_outputs',
      'aspect_ratio',
    ]);
    // Only what the run supplies is sent: the model applies its own defaults to the rest.
    const built = provider.buildPayload(req, first.capabilities);
    expect(built.payload).toEqual({ prompt: 'A red fox' });
    expect(built.issues).toEqual([]);
  });

  it('reads a known version through the versions endpoint', async () => {
    const provider = createReplicateProvider({ token: 'r8_test', baseUrl: fake.url });
    const { capabilities } = await provider.capabilities(
      request({ name: 'acme/flux-dev', version: 'ver-latest' }, 'x'),
    );
    expect(fake.received.modelGets).toEqual(['acme/flux-dev/versions/ver-latest']);
    expect(capabilities.required).toEqual(['prompt']);
  });

  it('uses an openapi_schema carried in the config without any request', async () => {
    const provider = createReplicateProvider({ token: 'r8_test', baseUrl: fake.url });
    const config = { name: 'acme/other', latest_version: { id: 'v9', openapi_schema: OPENAPI } };
    const { capabilities } = await provider.capabilities(request(config, 'x'));
    expect(capabilities.types.num_outputs).toBe('integer');
    expect(fake.received.requests).toEqual([]);
  });

  it('asks nothing without a token, and reports no schema', async () => {
    const provider = createReplicateProvider({ baseUrl: fake.url });
    const report = await provider.capabilities(request({ name: 'acme/flux-dev' }, 'x'));
    expect(fake.received.requests).toEqual([]);
    expect(report.capabilities.schema).toBeNull();
    expect(report.confidence).toBe(0.5);
  });

  it('reports no schema when the model cannot be found', async () => {
    const provider = createReplicateProvider({ token: 'r8_test', baseUrl: fake.url });
    const report = await provider.capabilities(request({ name: 'acme/missing' }, 'x'));
    expect(report.capabilities.schema).toBeNull();
    expect(report.signals.schema_present).toBe(false);
  });
});

describe('the openapi schema next to an example_input', () => {
  const config = {
    name: SEEDANCE.model,
    example_input: { prompt: 'a demo of a boat at sea, cinematic', duration: 5, resolution: '4k' },
  };

  it('is fetched once per version, recorded in the capabilities, and checks the built payload', async () => {
    const provider = createReplicateProvider({ token: 'r8_test', baseUrl: fake.url });
    const req = request(config, 'A paper boat in the rain');
    const first = await provider.capabilities(req);
    const second = await provider.capabilities(req);
    expect(fake.received.modelGets).toEqual([SEEDANCE.model]);
    expect(second.capabilities).toEqual(first.capabilities);
    const caps = first.capabilities;
    expect(caps.version).toBe(SEEDANCE.id);
    expect(caps.types.duration).toBe('integer');
    expect(caps.input_schema?.properties.resolution?.enum).toEqual(['480p', '720p', '1080p']);
    expect(caps.schema_summary).toMatchObject({
      source: 'example_input+openapi_schema',
      required: ['prompt'],
      media_fields: ['image', 'last_frame_image'],
      prompt_field: 'prompt',
    });
    // The example still supplies the defaults; the schema says one of them is not allowed.
    const built = provider.buildPayload(req, caps);
    expect(built.payload).toEqual({ prompt: 'A paper boat in the rain', duration: 5, resolution: '4k' });
    expect(built.issues).toEqual([
      expect.objectContaining({
        field: 'resolution',
        severity: 'error',
        suggested_fix: 'Set resolution to one of 480p, 720p, 1080p',
      }),
    ]);
  });

  it('is not fetched without a token: only types are checked', async () => {
    const provider = createReplicateProvider({ baseUrl: fake.url });
    const req = request(config, 'A paper boat in the rain');
    const { capabilities } = await provider.capabilities(req);
    expect(fake.received.requests).toEqual([]);
    expect(capabilities.input_schema).toBeUndefined();
    expect(capabilities.schema_summary?.source).toBe('example_input');
    expect(provider.buildPayload(req, capabilities).issues).toEqual([]);
  });
});
