import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createReplicateProvider } from '../../../actors/providers/replicate.ts';
import type { PredictionState } from '../../../actors/providers/types.ts';
import { type FakeReplicate, startFakeReplicate } from '../../support/fake-replicate.ts';
import { caps, pollUntilDone, rejectionOf } from './fixtures.ts';

let fake: FakeReplicate;
beforeAll(async () => {
  fake = await startFakeReplicate();
});
beforeEach(() => fake.reset());
afterAll(() => fake.close());

const provider = () => createReplicateProvider({ token: 'r8_test', baseUrl: fake.url });

function state(output: unknown, extra: Partial<PredictionState> = {}): PredictionState {
  return { id: 'p1', status: 'succeeded', output, error: null, completed_at: null, raw: {}, ...extra };
}

describe('polling Replicate', () => {
  it('moves a prediction from starting through processing to succeeded', async () => {
    fake.script({ kind: 'succeed', afterMs: 150 });
    const p = provider();
    const ref = await p.submit(caps(null), { prompt: 'x' });
    const seen = new Set<string>([ref.status]);
    const final = await (async () => {
      for (;;) {
        const s = await p.poll(ref.id);
        seen.add(s.status);
        if (s.status === 'succeeded') return s;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    expect([...seen]).toEqual(['starting', 'processing', 'succeeded']);
    expect(final.completed_at).toEqual(expect.any(String));
  });

  it('hands output URLs through poll and processOutput unchanged', async () => {
    const urls = [
      'https://replicate.delivery/xezq/abc/out-0.webp?X-Amz-Signature=a%2Fb&x=1',
      'https://replicate.delivery/xezq/abc/out 1.png',
      'data:image/png;base64,iVBORw0KGgo=',
    ];
    fake.script({ kind: 'succeed', afterMs: 0, output: urls });
    const p = provider();
    const ref = await p.submit(caps(null), { prompt: 'x' });
    const processed = p.processOutput(await pollUntilDone(p, ref.id));
    expect(processed.output).toEqual(urls);
    expect(processed.urls).toEqual(urls);
    expect(processed.text).toBeNull();
    expect(processed.quality).toBe(1);
  });

  it('keeps the prediction JSON as received, with logs cut to their last 4 KB', async () => {
    fake.script({ kind: 'succeed', afterMs: 0, logs: `${'a'.repeat(10_000)}the end` });
    const p = provider();
    const final = await pollUntilDone(p, (await p.submit(caps(null), { prompt: 'x' })).id);
    const raw = final.raw as Record<string, unknown>;
    expect(String(raw.logs)).toHaveLength(4096);
    expect(String(raw.logs).endsWith('the end')).toBe(true);
    expect(raw).toMatchObject({
      id: final.id,
      status: 'succeeded',
      input: { prompt: 'x' },
      data_removed: false,
    });
  });

  it('reports a failed prediction with its error and a lower quality', async () => {
    fake.script({ kind: 'fail', afterMs: 0, error: 'CUDA out of memory' });
    const p = provider();
    const final = await pollUntilDone(p, (await p.submit(caps(null), { prompt: 'x' })).id);
    expect(final).toMatchObject({ status: 'failed', error: 'CUDA out of memory', output: null });
    expect(p.processOutput(final).signals).toEqual({
      output_present: false,
      non_empty: false,
      urls_well_formed: true,
      no_provider_error: false,
    });
  });

  it('retries a GET after 429 honouring Retry-After and after a 5xx, then answers', async () => {
    const p = provider();
    const ref = await p.submit(caps(null), { prompt: 'x' });
    fake.scriptGets({ kind: 'http', status: 429, retryAfter: 1 }, { kind: 'http', status: 503 });
    const started = Date.now();
    const polled = await p.poll(ref.id);
    expect(polled.id).toBe(ref.id);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(fake.received.gets).toHaveLength(3);
  });

  it('gives up after the bounded number of GET attempts', async () => {
    fake.scriptGets(...Array.from({ length: 5 }, () => ({ kind: 'http' as const, status: 502 })));
    const error = await rejectionOf(provider().poll('abc123'));
    expect(error).toMatchObject({ kind: 'outcome_unknown', status: 502 });
    expect(fake.received.gets).toHaveLength(3);
  });

  it('answers provider_error for an unknown prediction', async () => {
    await expect(provider().poll('nope')).rejects.toMatchObject({ kind: 'provider_error', status: 404 });
  });

  it('cancels a running prediction', async () => {
    fake.script({ kind: 'succeed', afterMs: 5000 });
    const p = provider();
    const ref = await p.submit(caps(null), { prompt: 'x' });
    expect((await p.cancel(ref.id)).status).toBe('canceled');
    expect(fake.received.cancels).toEqual([ref.id]);
    expect((await p.poll(ref.id)).status).toBe('canceled');
  });

  it('a cancel of a prediction that already finished answers its final state', async () => {
    fake.script({ kind: 'succeed', afterMs: 0 });
    const p = provider();
    const ref = await p.submit(caps(null), { prompt: 'x' });
    let state = await p.poll(ref.id);
    for (let i = 0; i < 100 && state.status !== 'succeeded'; i++) {
      await new Promise((r) => setTimeout(r, 20));
      state = await p.poll(ref.id);
    }
    expect((await p.cancel(ref.id)).status).toBe('succeeded');
  });
});

describe('processing an output', () => {
  const p = createReplicateProvider({});

  it('joins a streamed token list into text', () => {
    const processed = p.processOutput(state(['Hello', ', ', 'world']));
    expect(processed).toMatchObject({ text: 'Hello, world', urls: [], quality: 1 });
  });

  it('finds URLs anywhere in a nested output, in order', () => {
    const output = {
      images: ['https://a.example/1.png'],
      meta: { preview: 'https://a.example/p.jpg' },
      n: 2,
    };
    expect(p.processOutput(state(output)).urls).toEqual([
      'https://a.example/1.png',
      'https://a.example/p.jpg',
    ]);
  });

  it('scores each quality signal', () => {
    expect(p.processOutput(state(null)).quality).toBe(0.5);
    expect(p.processOutput(state('   ')).signals).toMatchObject({ output_present: true, non_empty: false });
    expect(p.processOutput(state('   ')).quality).toBe(0.75);
    const broken = p.processOutput(state(['https://exa mple.com/x.png']));
    expect(broken.signals.urls_well_formed).toBe(false);
    expect(broken.quality).toBe(0.75);
    expect(p.processOutput(state('fine', { error: 'warning from model' })).quality).toBe(0.75);
  });
});
