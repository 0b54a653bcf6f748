import { describe, expect, it } from 'vitest';
import { createReplicateProvider } from '../../../actors/providers/replicate.ts';
import { caps, KONTEXT, NANO_BANANA, request, SDXL } from './fixtures.ts';

const provider = createReplicateProvider({});

async function build(config: Record<string, unknown>, prompt: string, attachments: string[] = []) {
  const req = request(config, prompt, attachments);
  const { capabilities } = await provider.capabilities(req);
  return provider.buildPayload(req, capabilities);
}

describe('building a Replicate payload', () => {
  it('keeps config defaults, places the prompt and drops the demo image no attachment fills', async () => {
    const built = await build(KONTEXT, 'Turn this into a watercolour');
    expect(built.payload).toEqual({
      prompt: 'Turn this into a watercolour',
      aspect_ratio: 'match_input_image',
      output_format: 'jpg',
      safety_tolerance: 2,
    });
    expect(built.prompt_field).toBe('prompt');
    expect(built.changed_fields).toBe(0);
    expect(built.issues).toEqual([expect.objectContaining({ field: 'input_image', severity: 'info' })]);
  });

  it('puts an attachment into the media field in place of the demo URL', async () => {
    const built = await build(KONTEXT, 'Make it snowy', ['https://files.example.com/house.jpg']);
    expect(built.payload.input_image).toBe('https://files.example.com/house.jpg');
    expect(built.attachment_fields).toEqual(['input_image']);
    expect(built.issues).toEqual([]);
    expect(built.changed_fields).toBe(0);
  });

  it('gives a list field every attachment as a list, URLs from the prompt last', async () => {
    const built = await build(NANO_BANANA, 'Blend these with https://cdn.example.com/logo.png.', [
      'https://files.example.com/a.jpg',
      'https://files.example.com/b.jpg',
    ]);
    expect(built.payload.image_input).toEqual([
      'https://files.example.com/a.jpg',
      'https://files.example.com/b.jpg',
      'https://cdn.example.com/logo.png',
    ]);
    expect(built.payload.prompt).toBe('Blend these with https://cdn.example.com/logo.png.');
  });

  it('drops prompt-like demo strings of other fields and says so with an info issue', async () => {
    const built = await build(SDXL, 'A lighthouse at dawn');
    expect(built.payload).toEqual({
      prompt: 'A lighthouse at dawn',
      width: 1024,
      height: 1024,
      refine: 'expert_ensemble_refiner',
      num_outputs: 1,
    });
    expect(built.issues).toEqual([
      expect.objectContaining({ field: 'negative_prompt', severity: 'info', auto_fixable: false }),
    ]);
  });

  it('sends only { prompt } when no schema is known', () => {
    const built = provider.buildPayload(request({}, 'hello there'), caps(null));
    expect(built.payload).toEqual({ prompt: 'hello there' });
    expect(built.issues).toEqual([]);
  });

  it('uses the first prompt field in the order prompt, text, input, query, instruction', () => {
    const built = provider.buildPayload(request({}, 'Say hi'), caps({ query: '', text: '', seed: 1 }));
    expect(built.payload).toEqual({ query: '', text: 'Say hi', seed: 1 });
    expect(built.prompt_field).toBe('text');
  });

  it('counts changed fields without the prompt field and the attachment fields', async () => {
    const req = request(KONTEXT, 'Make it snowy', ['https://files.example.com/house.jpg']);
    const { capabilities } = await provider.capabilities(req);
    const edited = {
      ...provider.buildPayload(req, capabilities).payload,
      output_format: 'png',
      safety_tolerance: 5,
    };
    const checked = provider.validatePayload(req, capabilities, { ...edited, prompt: 'Other words' });
    expect(checked.changed_fields).toBe(2);
  });
});

describe('validating a Replicate payload', () => {
  const schema = { prompt: '', image: '', steps: 4, guidance: 3.5, tags: ['a'], negative_prompt: '' };
  const types = { prompt: 'string', image: 'string', steps: 'integer', guidance: 'number', tags: 'array' };
  const c = caps(schema, { types, required: ['prompt', 'negative_prompt'] });

  it('reports a prompt that is not placed as an error', () => {
    const noPromptField = provider.buildPayload(request({}, 'Upscale it'), caps({ image: '', scale: 2 }));
    expect(noPromptField.issues).toContainEqual(
      expect.objectContaining({ field: 'prompt', severity: 'error' }),
    );
    const removed = provider.validatePayload(request({}, 'A cat'), c, { image: 'https://x.example/y.png' });
    expect(removed.issues[0]).toMatchObject({ field: 'prompt', severity: 'error', auto_fixable: true });
  });

  it('reports an attachment that is not placed as an error', () => {
    const built = provider.buildPayload(
      request({}, 'Summarise', ['https://f.example.com/doc.pdf?sig=s3cr3t']),
      caps({ prompt: '' }),
    );
    expect(built.issues).toEqual([expect.objectContaining({ field: 'attachments[0]', severity: 'error' })]);
    expect(built.issues[0]?.issue).not.toContain('s3cr3t');
  });

  it('reports a required prompt-like field left empty as an error', () => {
    const result = provider.validatePayload(request({}, ''), c, { prompt: '', negative_prompt: ' ' });
    expect(result.issues.filter((i) => i.severity === 'error').map((i) => i.field)).toEqual([
      'prompt',
      'negative_prompt',
    ]);
  });

  it('reports a value of the wrong JSON type as an error, an integer fitting a number', () => {
    const result = provider.validatePayload(request({}, 'x'), c, {
      prompt: 'x',
      negative_prompt: 'n',
      steps: 4.5,
      guidance: 3,
    });
    expect(result.issues).toEqual([
      expect.objectContaining({
        field: 'steps',
        severity: 'error',
        issue: 'steps must be integer, got number',
      }),
    ]);
  });

  it('reports a field the schema does not know as a warning', () => {
    const result = provider.validatePayload(request({}, 'x'), c, {
      prompt: 'x',
      negative_prompt: 'n',
      colour: 'red',
    });
    expect(result.issues).toEqual([
      expect.objectContaining({ field: 'colour', severity: 'warning', auto_fixable: true }),
    ]);
  });

  it('reports an empty list as info', () => {
    const result = provider.validatePayload(request({}, 'x'), c, {
      prompt: 'x',
      negative_prompt: 'n',
      tags: [],
    });
    expect(result.issues).toEqual([expect.objectContaining({ field: 'tags', severity: 'info' })]);
  });

  it('lists issues in a fixed order: rule by rule, then field by field', () => {
    const payload = { zeta: 1, tags: [], steps: 'four', negative_prompt: '', alpha: true };
    const req = request({}, 'x', ['https://f.example.com/1.png']);
    const first = provider.validatePayload(req, c, payload).issues.map((i) => `${i.severity}:${i.field}`);
    expect(first).toEqual([
      'error:prompt',
      'error:attachments[0]',
      'error:negative_prompt',
      'error:steps',
      'warning:zeta',
      'warning:alpha',
      'info:tags',
    ]);
    expect(provider.validatePayload(req, c, payload).issues.map((i) => `${i.severity}:${i.field}`)).toEqual(
      first,
    );
  });
});
