import { describe, expect, it } from 'vitest';
import { createKeyedQueue } from '../../actors/keyed-queue.ts';

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('createKeyedQueue', () => {
  it('runs calls with one key one after the other, in call order', async () => {
    const queue = createKeyedQueue();
    const seen: string[] = [];
    const job = (name: string) => async () => {
      seen.push(`${name} start`);
      await tick();
      seen.push(`${name} end`);
      return name;
    };
    const results = await Promise.all([queue.run('k', job('a')), queue.run('k', job('b'))]);
    expect(results).toEqual(['a', 'b']);
    expect(seen).toEqual(['a start', 'a end', 'b start', 'b end']);
  });

  it('runs calls with different keys side by side', async () => {
    const queue = createKeyedQueue();
    const seen: string[] = [];
    const job = (name: string) => async () => {
      seen.push(`${name} start`);
      await tick();
      seen.push(`${name} end`);
    };
    await Promise.all([queue.run('k1', job('a')), queue.run('k2', job('b'))]);
    expect(seen.slice(0, 2)).toEqual(['a start', 'b start']);
  });

  it('goes on after a failure, which only its own caller sees, and forgets drained keys', async () => {
    const queue = createKeyedQueue();
    const failed = queue.run('k', async () => {
      throw new Error('boom');
    });
    const next = queue.run('k', async () => 'next');
    await expect(failed).rejects.toThrow('boom');
    await expect(next).resolves.toBe('next');
    await tick();
    expect(queue.size).toBe(0);
  });
});
