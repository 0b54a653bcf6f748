import type { FakeOutcome, FakePredictionJson, SentWebhook } from './fake-replicate-predictions.ts';

/** A model the fake knows: `GET /v1/models/:owner/:name` (and its versions) serve it. */
export interface FakeModel {
  description?: string;
  latest_version?: { id: string; openapi_schema: unknown } | null;
  /** More versions: id → openapi_schema. */
  versions?: Record<string, unknown>;
}

/** One create request as received, whatever the fake answered. */
export interface FakeCreate {
  input: unknown;
  version: string | null;
  model: string | null;
  webhook: string | null;
  webhook_events_filter: unknown;
  answered: number | null;
}

export interface FakeReplicateOptions {
  /** `whsec_<base64>`: completed predictions with a `webhook` are POSTed there, signed. */
  webhookSecret?: string;
  /** `owner/name` → model. */
  models?: Record<string, FakeModel>;
  defaultOutcome?: FakeOutcome;
}

export interface FakeReplicate {
  /** Base URL including `/v1`, for `new Replicate({ baseUrl })`. */
  url: string;
  close(): Promise<void>;
  /** Outcomes for the next creates, one per create, in order. */
  script(...outcomes: FakeOutcome[]): void;
  /** HTTP answers for the next `GET /v1/predictions/:id`, one per request. */
  scriptGets(...outcomes: Array<Extract<FakeOutcome, { kind: 'http' }>>): void;
  setDefault(outcome: FakeOutcome): void;
  setModel(name: string, model: FakeModel): void;
  received: {
    creates: FakeCreate[];
    gets: string[];
    cancels: string[];
    modelGets: string[];
    webhooks: SentWebhook[];
    requests: Array<{ method: string; path: string; authorization: string | null }>;
  };
  predictions: Map<string, FakePredictionJson>;
  reset(): void;
}
