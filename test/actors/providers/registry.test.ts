import { describe, expect, it } from 'vitest';
import { HitlError } from '../../../actors/errors.ts';
import { createEchoProvider } from '../../../actors/providers/echo.ts';
import { createProviderRegistry } from '../../../actors/providers/registry.ts';
import { createReplicateProvider } from '../../../actors/providers/replicate.ts';

const registry = createProviderRegistry([createReplicateProvider({ token: 't' }), createEchoProvider()]);
const model = { name: 'acme/model', example_input: { prompt: '' } };

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof HitlError) return error.code;
    throw error;
  }
  return undefined;
}

describe('the provider registry', () => {
  it('lists its providers and finds one by name', () => {
    expect(registry.list().map((p) => p.name)).toEqual(['replicate', 'echo']);
    expect(registry.get('echo')?.name).toBe('echo');
    expect(registry.get('other')).toBeUndefined();
  });

  it('resolves replicate-agent-tool and unwraps its data', () => {
    const resolved = registry.resolve({ 'replicate-agent-tool': { data: model } });
    expect(resolved.provider.name).toBe('replicate');
    expect(resolved.tool_key).toBe('replicate-agent-tool');
    expect(resolved.model_config).toEqual(model);
  });

  it('takes a Replicate config given without data as the config itself', () => {
    expect(registry.resolve({ 'my-replicate-tool': model }).model_config).toEqual(model);
  });

  it('prefers the exact replicate key over other keys containing replicate', () => {
    const resolved = registry.resolve({ 'replicate-v2': { name: 'x/y' }, 'replicate-agent-tool': model });
    expect([resolved.tool_key, resolved.model_config]).toEqual(['replicate-agent-tool', model]);
  });

  it('resolves echo-agent-tool and ignores keys of other tools', () => {
    const resolved = registry.resolve({ 'search-tool': {}, 'echo-agent-tool': {} });
    expect([resolved.provider.name, resolved.tool_key, resolved.model_config]).toEqual([
      'echo',
      'echo-agent-tool',
      {},
    ]);
  });

  it('refuses keys for two different providers as invalid_request', () => {
    expect(codeOf(() => registry.resolve({ 'replicate-agent-tool': model, 'echo-agent-tool': {} }))).toBe(
      'invalid_request',
    );
  });

  it('refuses a config without a provider key as unsupported_provider', () => {
    expect(codeOf(() => registry.resolve(undefined))).toBe('unsupported_provider');
    expect(codeOf(() => registry.resolve({ 'openai-tool': {} }))).toBe('unsupported_provider');
  });

  it('refuses a provider that is not registered as unsupported_provider', () => {
    const onlyEcho = createProviderRegistry([createEchoProvider()]);
    expect(codeOf(() => onlyEcho.resolve({ 'replicate-agent-tool': model }))).toBe('unsupported_provider');
  });

  it('refuses a Replicate config that is not an object as invalid_request', () => {
    expect(codeOf(() => registry.resolve({ 'replicate-agent-tool': 'flux' }))).toBe('invalid_request');
    expect(codeOf(() => registry.resolve({ 'replicate-agent-tool': { data: [1] } }))).toBe('invalid_request');
  });
});
