import { createHmac, randomBytes } from 'node:crypto';

/** What the fake does with one create (consumed in order, else the default). */
export type FakeOutcome =
  | {
      kind: 'succeed';
      afterMs?: number;
      /** Answer the create already `succeeded` (as Replicate does with `Prefer: wait`). */
      atCreate?: boolean;
      /** A value, or a function of the exact input received. */
      output?: unknown;
      logs?: string;
    }
  | { kind: 'fail'; afterMs?: number; error?: string; logs?: string }
  /** Answer `status` (with `Retry-After` if given); `create: true` still creates the prediction. */
  | { kind: 'http'; status: number; body?: unknown; retryAfter?: number | string; create?: boolean }
  /** Never answer. */
  | { kind: 'hang' };

/** `times` answers 429 with `Retry-After: retryAfterSeconds`, to pass to `script`. */
export function rateLimit(times: number, retryAfterSeconds: number | string): FakeOutcome[] {
  const body = { title: 'Request was throttled', detail: 'Request was throttled.', status: 429 };
  return Array.from({ length: times }, () => ({
    kind: 'http',
    status: 429,
    body,
    retryAfter: retryAfterSeconds,
  }));
}

/** The `webhook-signature` header value (Standard Webhooks `v1,<base64 HMAC-SHA256>`) for a body. */
export function signWebhook(secret: string, id: string, timestamp: string, body: string): string {
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/** A prediction JSON as the fake serves it. */
export type FakePredictionJson = Record<string, unknown> & { id: string; status: string };

/** A sent webhook, as the fake recorded it. */
export interface SentWebhook {
  url: string;
  webhook_id: string;
  prediction_id: string;
  status: number | null;
}

interface Lifecycle {
  predictions: Map<string, FakePredictionJson>;
  timers: Set<NodeJS.Timeout>;
  webhooks: SentWebhook[];
  webhookSecret: string | undefined;
}

const FINAL = new Set(['succeeded', 'failed', 'canceled']);
const now = () => new Date().toISOString();

function later(life: Lifecycle, ms: number, fn: () => void): void {
  const timer = setTimeout(() => {
    life.timers.delete(timer);
    fn();
  }, ms);
  life.timers.add(timer);
}

async function sendWebhook(life: Lifecycle, json: FakePredictionJson): Promise<void> {
  const url = json.webhook;
  if (typeof url !== 'string' || !life.webhookSecret) return;
  const body = JSON.stringify(json);
  const webhookId = `msg_${randomBytes(12).toString('hex')}`;
  const timestamp = String(Math.floor(Date.now() / 1000));
  const sent: SentWebhook = { url, webhook_id: webhookId, prediction_id: json.id, status: null };
  life.webhooks.push(sent);
  const headers = {
    'content-type': 'application/json',
    'webhook-id': webhookId,
    'webhook-timestamp': timestamp,
    'webhook-signature': signWebhook(life.webhookSecret, webhookId, timestamp, body),
  };
  try {
    const response = await fetch(url, { method: 'POST', headers, body });
    sent.status = response.status;
    await response.body?.cancel();
  } catch {
    // The receiver is down: Replicate would retry; the fake records status null.
  }
}

function finish(life: Lifecycle, json: FakePredictionJson, outcome: FakeOutcome): void {
  if (FINAL.has(json.status)) return;
  const started = typeof json.started_at === 'string' ? json.started_at : now();
  Object.assign(json, { started_at: started, completed_at: now(), metrics: { predict_time: 0.01 } });
  if (outcome.kind === 'fail') {
    Object.assign(json, {
      status: 'failed',
      error: outcome.error ?? 'The model crashed',
      logs: outcome.logs ?? '',
    });
  } else {
    const given = outcome.kind === 'succeed' ? outcome.output : undefined;
    const output =
      typeof given === 'function'
        ? given(json.input)
        : (given ?? [`https://replicate.delivery/fake/${json.id}/out-0.png`]);
    Object.assign(json, {
      status: 'succeeded',
      output,
      logs: outcome.kind === 'succeed' ? (outcome.logs ?? '') : '',
    });
  }
  void sendWebhook(life, json);
}

/** Create a prediction and run it: starting → processing (half way) → succeeded/failed at `afterMs`. */
export function startPrediction(
  life: Lifecycle,
  baseUrl: string,
  fields: { version: string | null; model: string | null; input: unknown; webhook: unknown; filter: unknown },
  outcome: FakeOutcome,
): FakePredictionJson {
  const id = randomBytes(13).toString('hex');
  const json: FakePredictionJson = {
    id,
    model: fields.model ?? 'fake/model',
    version: fields.version ?? 'hidden',
    input: fields.input,
    logs: '',
    output: null,
    data_removed: false,
    error: null,
    status: 'starting',
    source: 'api',
    created_at: now(),
    started_at: null,
    completed_at: null,
    urls: { get: `${baseUrl}/predictions/${id}`, cancel: `${baseUrl}/predictions/${id}/cancel` },
    ...(typeof fields.webhook === 'string'
      ? { webhook: fields.webhook, webhook_events_filter: fields.filter }
      : {}),
  };
  life.predictions.set(id, json);
  if (outcome.kind === 'succeed' && outcome.atCreate) {
    finish(life, json, outcome);
    return json;
  }
  const afterMs = 'afterMs' in outcome && outcome.afterMs !== undefined ? outcome.afterMs : 30;
  later(life, afterMs / 2, () => {
    if (json.status === 'starting') Object.assign(json, { status: 'processing', started_at: now() });
  });
  later(life, afterMs, () => finish(life, json, outcome));
  return json;
}

/** Cancel a running prediction (a finished one stays as it is, as on Replicate). */
export function cancelPrediction(life: Lifecycle, json: FakePredictionJson): void {
  if (FINAL.has(json.status)) return;
  Object.assign(json, { status: 'canceled', completed_at: now() });
  void sendWebhook(life, json);
}

export type { Lifecycle };
