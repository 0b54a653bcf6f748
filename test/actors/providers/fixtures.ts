import type { PredictionState, Provider, ProviderRequest } from '../../../actors/providers/types.ts';
import type { Capabilities } from '../../../machines/schemas.ts';

/** A model config shaped like Replicate's flux-kontext-pro page (image editing). */
export const KONTEXT = {
  name: 'black-forest-labs/flux-kontext-pro',
  latest_version: 'ver-kontext-1',
  description: 'A state-of-the-art text-based image editing model',
  example_input: {
    prompt: 'Make this a 90s cartoon',
    input_image: 'https://replicate.delivery/pbxt/demo/cat.png',
    aspect_ratio: 'match_input_image',
    output_format: 'jpg',
    safety_tolerance: 2,
  },
  cost_per_run: 0.04,
};

/** Like google/nano-banana: a list of images. */
export const NANO_BANANA = {
  name: 'google/nano-banana',
  example_input: {
    prompt: 'Make the sheets in the style of the logo. Make the scene natural.',
    image_input: ['https://replicate.delivery/demo/a.png', 'https://replicate.delivery/demo/b.png'],
    output_format: 'jpg',
  },
};

/** Like an SDXL page whose demo carries long demo text outside the prompt. */
export const SDXL = {
  name: 'stability-ai/sdxl',
  version: { id: 'ver-sdxl-1' },
  example_input: {
    prompt: 'An astronaut riding a rainbow unicorn, cinematic, dramatic',
    negative_prompt: 'blurry, low quality, extra fingers, watermark',
    width: 1024,
    height: 1024,
    refine: 'expert_ensemble_refiner',
    num_outputs: 1,
  },
};

/** An openapi_schema as Replicate serves it for a version. */
export const OPENAPI = {
  openapi: '3.0.2',
  components: {
    schemas: {
      Input: {
        type: 'object',
        required: ['prompt'],
        properties: {
          prompt: { type: 'string', title: 'Prompt', 'x-order': 0 },
          num_outputs: { type: 'integer', default: 1, 'x-order': 3 },
          image: { type: 'string', format: 'uri', 'x-order': 1 },
          guidance: { type: 'number', default: 3.5, 'x-order': 2 },
          aspect_ratio: {
            allOf: [{ $ref: '#/components/schemas/aspect_ratio' }],
            default: '1:1',
            'x-order': 4,
          },
        },
      },
      aspect_ratio: { type: 'string', enum: ['1:1', '16:9'], title: 'aspect_ratio' },
      Output: { type: 'array', items: { type: 'string', format: 'uri' } },
    },
  },
};

/** A request for a Replicate model config. */
export function request(
  modelConfig: Record<string, unknown>,
  prompt: string,
  attachments: string[] = [],
): ProviderRequest {
  return { prompt, attachments, model_config: modelConfig };
}

/** Capabilities built by hand (no network) for payload tests. */
export function caps(
  schema: Record<string, unknown> | null,
  extra: Partial<Capabilities> = {},
): Capabilities {
  return {
    provider: 'replicate',
    model: 'owner/model',
    version: 'v1',
    schema,
    required: [],
    types: {},
    operation_type: 'prediction',
    estimated_cost: null,
    ...extra,
  };
}

/** Poll until the prediction is final (the fake finishes in tens of ms). */
export async function pollUntilDone(provider: Provider, id: string): Promise<PredictionState> {
  for (let i = 0; i < 200; i += 1) {
    const state = await provider.poll(id);
    if (['succeeded', 'failed', 'canceled'].includes(state.status)) return state;
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
  throw new Error(`prediction ${id} did not finish`);
}

/** The error a promise rejects with. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}
