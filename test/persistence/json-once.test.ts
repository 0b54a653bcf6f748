import { describe, expect, it } from 'vitest';
import { jsonOf, jsonOnce } from '../../persistence/json-once.ts';

describe('jsonOf', () => {
  const records: Record<string, unknown>[] = [
    {},
    { a: 1, b: 'two', c: null, d: undefined, e: [1, { f: undefined }], g: { h: true } },
    { 2: 'x', 1: 'y', z: new Date(0), fn: () => 1, s: 'q"uote\u0001' },
  ];

  it('writes what JSON.stringify writes, for every kind of field', () => {
    for (const r of records) expect(jsonOf(r)).toBe(JSON.stringify(r));
    // Also with texts kept for some of its fields.
    for (const r of records) for (const k of ['e', 'g', 'z']) if (r[k]) jsonOnce(r[k] as object);
    for (const r of records) expect(jsonOf(r)).toBe(JSON.stringify(r));
  });

  it('takes the kept text of an object field: made once, the same text in another record', () => {
    const envelope = { machine_version: 2, snapshot: { value: 'done', context: { n: [1, 2] } } };
    expect(jsonOnce(envelope)).toBe(JSON.stringify(envelope));
    expect(jsonOf({ run_id: 'r', envelope })).toBe(JSON.stringify({ run_id: 'r', envelope }));
    expect(jsonOf({ envelope, updated_at: 't' })).toBe(JSON.stringify({ envelope, updated_at: 't' }));
  });
});
