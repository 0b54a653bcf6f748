import { isRecord } from '../../machines/values.ts';
import { HitlError } from '../errors.ts';
import type { Provider } from './types.ts';

/** The provider a run uses, the tool key that chose it, and its config (`data` unwrapped). */
export interface ResolvedProvider {
  provider: Provider;
  tool_key: string;
  model_config: Record<string, unknown>;
}

/** Maps `agent_tool_config` keys to providers (SPEC §2.1). */
export interface ProviderRegistry {
  list(): Provider[];
  get(name: string): Provider | undefined;
  resolve(agentToolConfig: Record<string, unknown> | undefined): ResolvedProvider;
}

const REPLICATE_KEY = 'replicate-agent-tool';
const ECHO_KEY = 'echo-agent-tool';

function providerNameOf(key: string): Provider['name'] | null {
  if (key === ECHO_KEY) return 'echo';
  if (key.toLowerCase().includes('replicate')) return 'replicate';
  return null;
}

function modelConfigOf(name: Provider['name'], key: string, value: unknown): Record<string, unknown> {
  if (name === 'echo') return isRecord(value) ? value : {};
  if (!isRecord(value)) throw new HitlError('invalid_request', `agent_tool_config.${key} must be an object`);
  if (value.data === undefined) return value;
  if (!isRecord(value.data))
    throw new HitlError('invalid_request', `agent_tool_config.${key}.data must be an object`);
  return value.data;
}

/** A registry over the given providers; keys of other tools in the config are ignored. */
export function createProviderRegistry(providers: Provider[]): ProviderRegistry {
  const byName = new Map<string, Provider>(providers.map((p) => [p.name, p]));
  return {
    list: () => [...byName.values()],
    get: (name) => byName.get(name),
    resolve(agentToolConfig) {
      const keys = Object.keys(agentToolConfig ?? {}).filter((k) => providerNameOf(k) !== null);
      const names = [...new Set(keys.map(providerNameOf))];
      if (names.length > 1) {
        throw new HitlError(
          'invalid_request',
          `agent_tool_config names several providers: ${keys.join(', ')}`,
          {
            keys,
          },
        );
      }
      const name = names[0];
      // Several keys for one provider: the exact key wins, else the first in the config's order.
      const key = keys.includes(REPLICATE_KEY) ? REPLICATE_KEY : keys[0];
      const provider = name ? byName.get(name) : undefined;
      if (!name || key === undefined || !provider) {
        const known = [...byName.values()].flatMap((p) => p.tools).join(', ');
        throw new HitlError(
          'unsupported_provider',
          `No supported provider in agent_tool_config (known tools: ${known})`,
        );
      }
      return { provider, tool_key: key, model_config: modelConfigOf(name, key, agentToolConfig?.[key]) };
    },
  };
}
