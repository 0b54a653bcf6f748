import { describe, expect, it } from 'vitest';
import { createReplicateProvider } from '../../../actors/providers/replicate.ts';
import type { Capabilities } from '../../../machines/schemas.ts';
import { request } from './fixtures.ts';

/**
 * Constraint kinds that none of the published fixtures uses, on a schema written in cog's style
 * for this test (not a published model): lengths, pattern, exclusive bounds in both the number
 * and the OpenAPI 3.0 boolean form, list sizes, a nullable enum through allOf/$ref, required fields.
 */
const OPENAPI = {
  openapi: '3.0.2',
  components: {
    schemas: {
      Input: {
        type: 'object',
        required: ['title', 'voice', 'reference'],
        properties: {
          prompt: { type: 'string', 'x-order': 0 },
          title: { type: 'string', minLength: 1, maxLength: 10, 'x-order': 0 },
          code: { type: 'string', pattern: '^[A-Z]{3}$', 'x-order': 1 },
          strength: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1, 'x-order': 2 },
          legacy: { type: 'number', minimum: 0, exclusiveMinimum: true, maximum: 10, 'x-order': 3 },
          refs: {
            type: 'array',
            items: { type: 'string', format: 'uri' },
            minItems: 1,
            maxItems: 2,
            'x-order': 4,
          },
          voice: { allOf: [{ $ref: '#/components/schemas/voice' }], default: 'alloy', 'x-order': 5 },
          mood: { allOf: [{ $ref: '#/components/schemas/mood' }], nullable: true, 'x-order': 6 },
          reference: {
            type: 'string',
            format: 'uri',
            default: 'https://replicate.delivery/demo/voice.wav',
            'x-order': 7,
          },
          slow: { type: 'string', pattern: '^(a+)+$', 'x-order': 8 },
        },
      },
      voice: { type: 'string', enum: ['alloy', 'echo'], title: 'voice' },
      mood: { type: 'string', enum: ['calm', 'bright'], title: 'mood' },
    },
  },
};

const provider = createReplicateProvider({});
const config = { name: 'acme/speaker', latest_version: { id: 'v1', openapi_schema: OPENAPI } };
const VALID = {
  prompt: 'Hello',
  title: 'Greeting',
  voice: 'echo',
  reference: 'https://files.example.com/me.wav',
};

async function capsOf(): Promise<Capabilities> {
  return (await provider.capabilities(request(config, 'Hello'))).capabilities;
}

function issuesOf(caps: Capabilities, payload: Record<string, unknown>) {
  return provider.validatePayload(request(config, 'Hello'), caps, payload).issues;
}

describe('constraint kinds of a cog-style input schema', () => {
  it.each([
    ['minLength', { title: '' }, 'title', 'text of 1 to 10 characters'],
    ['maxLength', { title: 'Hello there!' }, 'title', 'text of 1 to 10 characters'],
    ['pattern', { code: 'abc' }, 'code', 'text matching /^[A-Z]{3}$/'],
    ['exclusiveMinimum', { strength: 0 }, 'strength', 'a number > 0 and < 1'],
    ['exclusiveMaximum', { strength: 1 }, 'strength', 'a number > 0 and < 1'],
    ['boolean exclusiveMinimum (OpenAPI 3.0)', { legacy: 0 }, 'legacy', 'a number > 0 and ≤ 10'],
    ['minItems', { refs: [] }, 'refs', 'a list of 1 to 2 items, each an http(s) URL or a data: URI'],
    [
      'maxItems',
      { refs: ['https://a.example/1', 'https://a.example/2', 'https://a.example/3'] },
      'refs',
      'a list of 1 to 2 items, each an http(s) URL or a data: URI',
    ],
    ['nullable enum through allOf/$ref', { mood: 'angry' }, 'mood', 'one of calm, bright or null'],
  ])('%s is an error naming the field and what it takes', async (_kind, edit, field, allowed) => {
    const errors = issuesOf(await capsOf(), { ...VALID, ...edit }).filter((i) => i.severity === 'error');
    expect(errors).toEqual([expect.objectContaining({ field, severity: 'error', auto_fixable: false })]);
    expect(errors[0]?.suggested_fix).toBe(`Set ${field} to ${allowed}`);
  });

  it('passes values at the edges, and null where the schema is nullable', async () => {
    const payload = {
      ...VALID,
      code: 'ABC',
      strength: 0.5,
      legacy: 10,
      refs: ['data:audio/wav;base64,UklGRg=='],
      mood: null,
    };
    expect(issuesOf(await capsOf(), payload)).toEqual([]);
  });

  it("offers the schema's default for a missing required field as the one obvious fix", async () => {
    const { voice: _, ...payload } = VALID;
    expect(issuesOf(await capsOf(), payload)).toEqual([
      {
        field: 'voice',
        issue: 'Required field voice is missing',
        severity: 'error',
        suggested_fix: 'Set voice to its default "alloy"',
        auto_fixable: true,
      },
    ]);
  });

  it('fills required fields the payload leaves out with their defaults, but never a demo file', async () => {
    const caps = await capsOf();
    const built = provider.buildPayload(request(config, 'Hello'), caps);
    expect(built.payload).toEqual({ prompt: 'Hello', voice: 'alloy' });
    expect(built.issues.filter((i) => i.severity === 'error')).toEqual([
      expect.objectContaining({ field: 'title', issue: 'Required field title is missing' }),
      expect.objectContaining({
        field: 'reference',
        issue: 'Required field reference is missing',
        severity: 'error',
        suggested_fix: 'Set reference to an http(s) URL or a data: URI',
        auto_fixable: false,
      }),
    ]);
  });

  it('leaves a pattern that could take too long to match unchecked, with a warning', async () => {
    const issues = issuesOf(await capsOf(), { ...VALID, slow: `${'a'.repeat(40)}!` });
    expect(issues).toEqual([expect.objectContaining({ field: 'slow', severity: 'warning' })]);
  });

  it('falls back to type checks, with a warning, when the schema cannot be compiled', async () => {
    const broken = structuredClone(OPENAPI);
    Object.assign(broken.components.schemas.Input.properties.strength, { minimum: 'zero' });
    const brokenConfig = { name: 'acme/broken', latest_version: { id: 'v2', openapi_schema: broken } };
    const caps = (await provider.capabilities(request(brokenConfig, 'Hello'))).capabilities;
    const issues = provider.validatePayload(request(brokenConfig, 'Hello'), caps, {
      ...VALID,
      strength: 'high',
    });
    expect(issues.issues).toEqual([
      expect.objectContaining({ field: 'schema', severity: 'warning' }),
      expect.objectContaining({
        field: 'strength',
        issue: 'strength must be number, got string',
        severity: 'error',
      }),
    ]);
  });
});
