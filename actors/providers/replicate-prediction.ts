import { z } from 'zod';
import { type PredictionState, ProviderError } from './types.ts';

const LOG_LIMIT_BYTES = 4096;

const PredictionJson = z.looseObject({
  id: z.string().min(1),
  status: z.string(),
  output: z.unknown().optional(),
  error: z.unknown().optional(),
  logs: z.string().nullish(),
  created_at: z.string().nullish(),
  completed_at: z.string().nullish(),
});

const STATUSES: Record<string, PredictionState['status']> = {
  starting: 'starting',
  processing: 'processing',
  succeeded: 'succeeded',
  failed: 'failed',
  canceled: 'canceled',
  // Replicate's word for a prediction stopped before it ran (e.g. a deadline): it ended, unfinished.
  aborted: 'canceled',
};

/** Keep the last 4 KB of logs: the end is where a failure explains itself. */
export function cutLogs(logs: string): string {
  const bytes = Buffer.from(logs, 'utf8');
  if (bytes.length <= LOG_LIMIT_BYTES) return logs;
  // Cutting may split a multi-byte character; drop the replacement character it leaves.
  return bytes
    .subarray(bytes.length - LOG_LIMIT_BYTES)
    .toString('utf8')
    .replace(/^\uFFFD+/, '');
}

/** A prediction JSON as received → our view of it (validated at this edge). */
export function toPredictionState(json: unknown): PredictionState {
  const parsed = PredictionJson.safeParse(json);
  if (!parsed.success)
    throw new ProviderError('provider_error', 'Replicate answered with an unreadable prediction');
  const prediction = parsed.data;
  const status = STATUSES[prediction.status];
  if (!status)
    throw new ProviderError('provider_error', `Replicate reported an unknown status: ${prediction.status}`);
  // `raw` is the JSON as received (not zod's copy), only the logs cut.
  const raw =
    typeof prediction.logs === 'string' ? { ...(json as object), logs: cutLogs(prediction.logs) } : json;
  return {
    id: prediction.id,
    status,
    output: prediction.output ?? null,
    error: prediction.error ?? null,
    completed_at: prediction.completed_at ?? null,
    raw,
  };
}

/** Whether a status is final. */
export function isFinal(status: PredictionState['status']): boolean {
  return status === 'succeeded' || status === 'failed' || status === 'canceled';
}
