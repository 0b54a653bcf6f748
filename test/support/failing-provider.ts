import { type Provider, ProviderError } from '../../actors/providers/types.ts';

/**
 * A provider whose capabilities lookup fails every time after `ms` (a provider that is down),
 * and has no local capabilities to fall back on. Everything else is the wrapped provider's.
 */
export function failingCapabilities(p: Provider, ms: number, calls: string[] = []): Provider {
  return {
    ...p,
    capabilitiesNow: () => null,
    async capabilities() {
      calls.push(new Date().toISOString());
      await new Promise((r) => setTimeout(r, ms));
      throw new ProviderError('outcome_unknown', `Replicate answered 503 Service Unavailable`);
    },
  };
}
