import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { validateWebhook } from 'replicate';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createReplicateProvider } from '../../../actors/providers/replicate.ts';
import { ProviderError } from '../../../actors/providers/types.ts';
import {
  type FakeReplicate,
  rateLimit,
  signWebhook,
  startFakeReplicate,
} from '../../support/fake-replicate.ts';
import { caps, KONTEXT, pollUntilDone, rejectionOf, request, SDXL } from './fixtures.ts';

const TOKEN = 'r8_secret_token_value';
const SECRET = `whsec_${Buffer.from('fake webhook key').toString('base64')}`;
let fake: FakeReplicate;
beforeAll(async () => {
  fake = await startFakeReplicate({
    webhookSecret: SECRET,
    models: {
      'acme/pinned': { latest_version: { id: 'ver-latest', openapi_schema: {} } },
      'acme/official': {},
    },
  });
});
beforeEach(() => fake.reset());
afterAll(() => fake.close());

const provider = (extra: Parameters<typeof createReplicateProvider>[0] = {}) =>
  createReplicateProvider({ token: TOKEN, baseUrl: fake.url, ...extra });

describe('submitting to Replicate', () => {
  it('sends exactly the reviewed payload as input, by version, with the token', async () => {
    const p = provider();
    const req = request(KONTEXT, 'Make it snowy', ['https://files.example.com/house.jpg']);
    const { capabilities } = await p.capabilities(req);
    const { payload } = p.buildPayload(req, capabilities);
    const ref = await p.submit(capabilities, payload);
    expect(fake.received.creates).toEqual([
      expect.objectContaining({ input: payload, version: 'ver-kontext-1', model: null, webhook: null }),
    ]);
    expect(fake.received.requests[0]?.authorization).toBe(`Bearer ${TOKEN}`);
    expect(ref).toMatchObject({ id: expect.any(String), status: 'starting' });
    expect(fake.predictions.has(ref.id)).toBe(true);
  });

  it('never lets demo URLs or demo text of example_input reach the input', async () => {
    const p = provider();
    for (const config of [KONTEXT, SDXL]) {
      const req = request(config, 'A quiet harbour');
      const { capabilities } = await p.capabilities(req);
      await p.submit(capabilities, p.buildPayload(req, capabilities).payload);
    }
    const sent = JSON.stringify(fake.received.creates.map((c) => c.input));
    for (const demo of [
      KONTEXT.example_input.input_image,
      KONTEXT.example_input.prompt,
      SDXL.example_input.negative_prompt,
    ]) {
      expect(sent).not.toContain(demo);
    }
  });

  it('resolves the latest version when only the model is known, else creates by model name', async () => {
    const p = provider();
    await p.submit(caps(null, { model: 'acme/pinned', version: null }), { prompt: 'a' });
    await p.submit(caps(null, { model: 'acme/official', version: null }), { prompt: 'b' });
    expect(fake.received.creates.map((c) => [c.version, c.model])).toEqual([
      ['ver-latest', null],
      [null, 'acme/official'],
    ]);
  });

  it('retries nothing itself on 429: each submit is one create, with retryAfterMs from Retry-After', async () => {
    fake.script(...rateLimit(2, 7));
    const p = provider();
    const c = caps(null);
    const first = await rejectionOf(p.submit(c, { prompt: 'x' }));
    const second = await rejectionOf(p.submit(c, { prompt: 'x' }));
    const third = await p.submit(c, { prompt: 'x' });
    for (const error of [first, second]) {
      expect(error).toBeInstanceOf(ProviderError);
      expect(error).toMatchObject({ kind: 'rate_limited', status: 429, retryAfterMs: 7000 });
    }
    expect(fake.received.creates).toHaveLength(3);
    expect([...fake.predictions.keys()]).toEqual([third.id]);
  });

  it('reads Retry-After given as an HTTP date', async () => {
    fake.script(...rateLimit(1, new Date(Date.now() + 30_000).toUTCString()));
    const error = await rejectionOf(provider().submit(caps(null), { prompt: 'x' }));
    expect((error as ProviderError).retryAfterMs).toBeGreaterThan(27_000);
    expect((error as ProviderError).retryAfterMs).toBeLessThanOrEqual(30_000);
  });

  it('maps 422 to a recoverable validation error carrying the provider detail, token redacted', async () => {
    fake.script({
      kind: 'http',
      status: 422,
      body: { detail: `input.steps: must be <= 50 (auth ${TOKEN})`, status: 422 },
    });
    const error = await rejectionOf(provider().submit(caps(null), { prompt: 'x', steps: 99 }));
    expect(error).toMatchObject({
      kind: 'validation',
      status: 422,
      message: 'input.steps: must be <= 50 (auth [redacted])',
    });
  });

  it('maps 500 to outcome_unknown, even when the prediction was in fact created', async () => {
    fake.script({ kind: 'http', status: 500, create: true });
    const error = await rejectionOf(provider().submit(caps(null), { prompt: 'x' }));
    expect(error).toMatchObject({ kind: 'outcome_unknown', status: 500 });
    expect(fake.received.creates).toHaveLength(1);
    expect(fake.predictions.size).toBe(1);
  });

  it('maps a create that never answers to outcome_unknown after submitTimeoutMs, sent once', async () => {
    fake.script({ kind: 'hang' });
    const started = Date.now();
    const error = await rejectionOf(provider({ submitTimeoutMs: 200 }).submit(caps(null), { prompt: 'x' }));
    expect(error).toMatchObject({
      kind: 'outcome_unknown',
      message: 'Replicate did not answer within 200 ms',
    });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(fake.received.creates).toHaveLength(1);
  });

  it('maps a refused connection to connection_refused, after a single attempt', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    let calls = 0;
    const counting: typeof fetch = (input, init) => {
      calls += 1;
      return fetch(input, init);
    };
    const p = createReplicateProvider({
      token: TOKEN,
      baseUrl: `http://127.0.0.1:${port}/v1`,
      fetch: counting,
    });
    const error = await rejectionOf(p.submit(caps(null), { prompt: 'x' }));
    expect(error).toMatchObject({ kind: 'connection_refused' });
    expect(String((error as Error).message)).not.toContain(TOKEN);
    expect(calls).toBe(1);
  });

  it('refuses to submit without a token and sends nothing', async () => {
    const p = createReplicateProvider({ baseUrl: fake.url });
    expect(p.configured()).toBe(false);
    await expect(p.submit(caps(null), { prompt: 'x' })).rejects.toMatchObject({ kind: 'provider_error' });
    expect(fake.received.requests).toEqual([]);
  });

  it('asks for a completed-only webhook, which the fake signs the Standard Webhooks way', async () => {
    const bodies: Array<{ headers: Record<string, string>; body: string }> = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        bodies.push({ headers: req.headers as Record<string, string>, body });
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/replicate`;
    const ref = await provider().submit(caps(null), { prompt: 'x' }, { webhook: hook });
    await pollUntilDone(provider(), ref.id);
    await expect.poll(() => bodies.length).toBe(1);
    receiver.close();
    expect(fake.received.creates[0]).toMatchObject({ webhook: hook, webhook_events_filter: ['completed'] });
    const [delivered] = bodies;
    expect(JSON.parse(delivered?.body ?? '{}')).toMatchObject({ id: ref.id, status: 'succeeded' });
    const headers = delivered?.headers ?? {};
    const signed = {
      id: String(headers['webhook-id']),
      timestamp: String(headers['webhook-timestamp']),
      signature: String(headers['webhook-signature']),
      body: delivered?.body ?? '',
      secret: SECRET,
    };
    expect(await validateWebhook(signed)).toBe(true);
    expect(signWebhook(SECRET, signed.id, signed.timestamp, signed.body)).toBe(signed.signature);
    expect(await validateWebhook({ ...signed, body: signed.body.replace('succeeded', 'failed') })).toBe(
      false,
    );
  });
});
