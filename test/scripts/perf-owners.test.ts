import { describe, expect, it } from 'vitest';
import { moduleOf, perfOwners } from '../../scripts/bench/perf-owners.ts';

// Three samples as `perf script -F ip,sym` prints them (leaf first, blank line between samples).
const TEXT = `
\t    7feecc463284 JS:*describe file:///srv/app/machines/run-facts.ts:1:459
\t    7feecc403724 JS:* file:///srv/app/actors/run-core.ts:1:3001
\t         1508083 Builtins_AsyncFunctionAwaitResolveClosure
\t    7feecc26d6f4 JS:*processTicksAndRejections node:internal/process/task_queues:67:35

\t         14c5c0f Builtins_CallFunction_ReceiverIsAny
\t    7feecc21d805 JS:^unsafe file:///srv/app/node_modules/postgres/src/index.js:119:20
\t    7feecc42d945 JS:* file:///srv/app/persistence/postgres-batch.ts:95:827

\t          c7e636 v8::internal::Heap::Scavenge
\t          7bbbe6 node::SpinEventLoopInternal
`;

describe('perf-owners (scripts/bench/perf-owners.ts)', () => {
  it('names the module of a JavaScript frame: a package, a file of ours, a Node module', () => {
    expect(moduleOf('JS:*get /srv/app/node_modules/@hono/node-server/dist/index.mjs:113:5')).toBe(
      'pkg:@hono/node-server',
    );
    expect(moduleOf('JS:*flush file:///srv/app/actors/commit-queue.ts:1:372')).toBe(
      'ours:actors/commit-queue.ts',
    );
    expect(moduleOf('JS:*emit node:events:471:28')).toBe('node:events');
    expect(moduleOf('Builtins_JSEntry')).toBeNull();
  });

  it('gives each sample to its innermost JavaScript frame, or to GC when it has none, and counts stacks inclusively', () => {
    const { samples, own, incl } = perfOwners(TEXT);
    expect(samples).toBe(3);
    expect(Object.fromEntries(own)).toEqual({
      'ours:machines/run-facts.ts': 1,
      'pkg:postgres': 1,
      'native:gc': 1,
    });
    expect(incl.get('ours:actors/run-core.ts')).toBe(1);
    expect(incl.get('ours:persistence/postgres-batch.ts')).toBe(1);
    expect(incl.get('node:internal/process/task_queues')).toBe(1);
  });
});
