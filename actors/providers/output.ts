import type { ProcessedResponse } from '../../machines/schemas.ts';
import { isRecord } from '../../machines/values.ts';
import { isUrlLike, urlsInValue } from './json-values.ts';
import type { PredictionState } from './types.ts';

function wellFormed(url: string): boolean {
  try {
    const parsed = new URL(url);
    // `new URL('https://')` throws, but `http:foo` parses: a web URL also needs a host.
    return parsed.protocol === 'data:' || parsed.host.length > 0;
  } catch {
    return false;
  }
}

function nonEmpty(value: unknown): boolean {
  if (value === null || value === undefined) return false;
  if (typeof value === 'string') return value.trim().length > 0;
  if (Array.isArray(value)) return value.some(nonEmpty);
  if (isRecord(value)) return Object.values(value).some(nonEmpty);
  return true;
}

function textOf(output: unknown): string | null {
  if (typeof output === 'string') return output;
  // Language models stream tokens as a string list; a list of file URLs is not text.
  const isTokenList =
    Array.isArray(output) &&
    output.length > 0 &&
    output.every((item) => typeof item === 'string' && !isUrlLike(item));
  return isTokenList ? output.join('') : null;
}

function hasError(error: unknown): boolean {
  return error !== null && error !== undefined && error !== '';
}

/** SPEC §2.2 step 4: the output exactly as returned, its URLs and text, and the response quality. */
export function processOutput(state: PredictionState): ProcessedResponse {
  const output = state.output;
  const urls = urlsInValue(output);
  const signals = {
    output_present: output !== null && output !== undefined,
    non_empty: nonEmpty(output),
    urls_well_formed: urls.every(wellFormed),
    no_provider_error: !hasError(state.error) && state.status !== 'failed' && state.status !== 'canceled',
  };
  const values = Object.values(signals);
  const quality = values.filter(Boolean).length / values.length;
  return { output, urls, text: textOf(output), quality, signals };
}
