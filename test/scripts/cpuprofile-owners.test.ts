import { describe, expect, it } from 'vitest';
import { type CpuProfile, cpuOwners, ownerOfUrl } from '../../scripts/bench/cpuprofile-owners.ts';

// A tree as V8 writes it: (root) → a handler of ours → postgres.js → a native socket write; GC and
// idle at the root; Node's own stream code with no package or file of ours above it.
const frame = (functionName: string, url = '') => ({ functionName, url });
const PROFILE: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)'), children: [2, 5, 6, 7] },
    { id: 2, callFrame: frame('flush', 'file:///srv/app/actors/commit-queue.ts'), children: [3] },
    {
      id: 3,
      callFrame: frame('unsafe', 'file:///srv/app/node_modules/postgres/src/index.js'),
      children: [4],
    },
    { id: 4, callFrame: frame('writeBuffer') },
    { id: 5, callFrame: frame('(garbage collector)') },
    { id: 6, callFrame: frame('(idle)') },
    { id: 7, callFrame: frame('onStreamRead', 'node:internal/stream_base_commons') },
  ],
  // writeBuffer 3 ticks, the queue's own frame 1, GC 2, Node 2, idle 10 (left out).
  samples: [4, 4, 4, 2, 5, 5, 7, 7, 6],
  timeDeltas: [1, 1, 1, 1, 1, 1, 1, 1, 10],
};

describe('cpuprofile-owners (scripts/bench/cpuprofile-owners.ts)', () => {
  it('names a package, a file of ours, or nothing for Node and native frames', () => {
    expect(ownerOfUrl('file:///srv/app/node_modules/@hono/node-server/dist/index.mjs')).toBe(
      'pkg:@hono/node-server',
    );
    expect(ownerOfUrl('file:///srv/app/persistence/postgres-batch.ts')).toBe(
      'ours:persistence/postgres-batch.ts',
    );
    expect(ownerOfUrl('node:internal/stream_base_commons')).toBeNull();
    expect(ownerOfUrl('')).toBeNull();
  });

  it('gives a native write to the package that made it, and shares out the busy time without idle', () => {
    const owners = Object.fromEntries(cpuOwners(PROFILE));
    expect(owners).toEqual({
      'pkg:postgres': 3 / 8,
      'ours:actors/commit-queue.ts': 1 / 8,
      '(garbage collector)': 2 / 8,
      node: 2 / 8,
    });
    expect(cpuOwners(PROFILE)[0]?.[0]).toBe('pkg:postgres');
  });
});
