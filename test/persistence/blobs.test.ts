import { describe, expect, it } from 'vitest';
import { BLOB_MIN_CHARS, dehydrate, hydrate } from '../../persistence/blobs.ts';

// The write path's replacement of long strings, on values that share objects from one commit to
// the next (as a run's snapshots do): what a later value adds is still found.
describe('dehydrate', () => {
  const long = (c: string) => c.repeat(BLOB_MIN_CHARS);

  it('finds a long string added next to objects an earlier write already walked', () => {
    const shared = { config: { model: 'm', tags: ['a', 'b'] }, steps: [{ at: 't' }] };
    const first = new Map<string, string>();
    expect(dehydrate({ ctx: shared, n: 1 }, first)).toEqual({ ctx: shared, n: 1 });
    expect(first.size).toBe(0);

    const out = new Map<string, string>();
    const next = { ctx: shared, output: { text: long('x') }, list: [shared.config, long('y')] };
    const stored = dehydrate(next, out) as typeof next;
    expect(out.size).toBe(2);
    expect(stored.ctx).toBe(shared);
    expect(stored.output.text).not.toBe(long('x'));
    const blobs = new Map([...out].map(([sha, body]) => [sha, body]));
    expect(hydrate(structuredClone(stored), (sha) => blobs.get(sha) as string)).toEqual(next);
  });

  it('escapes a string that looks like a reference, again on a later write of a new parent', () => {
    const tricky = { s: '\u0001hitl:blob:abc' };
    const once = dehydrate({ tricky }, new Map()) as { tricky: { s: string } };
    const twice = dehydrate({ again: tricky }, new Map()) as { again: { s: string } };
    expect(once.tricky.s).not.toBe(tricky.s);
    expect(twice.again.s).toBe(once.tricky.s);
    expect(hydrate(structuredClone(twice), () => '')).toEqual({ again: tricky });
  });
});
