import { describe, expect, it } from 'vitest';
import { createRunFanout, MAX_WAITING_MESSAGES } from '../../actors/run-fanout.ts';
import type { HostMessage } from '../../actors/run-messages.ts';
import { createMemoryCache, createMemoryHub } from '../../persistence/memory.ts';
import type { Json, RunStore } from '../../persistence/types.ts';
import { runMessage } from '../support/messages.ts';

// What a node does with messages heard from the bus while one sent by reference waits for the
// store (the references' own round trip is tested against Postgres in large-fanout.test.ts).

const RUN = '00000000-0000-4000-8000-000000000002';
const message = (seq: number, kind = 'run') => runMessage(RUN, seq, { kind });

/** A node whose store resolves references only when the test says so. */
function node() {
  const hub = createMemoryHub();
  const sender = hub.bus();
  const warnings: string[] = [];
  let release: (v: Json | null) => void = () => {};
  const resolved = new Promise<Json | null>((r) => {
    release = r;
  });
  const refs: NonNullable<RunStore['messageRefs']> = {
    pack: () => null,
    unpack: () => resolved,
  };
  const fanout = createRunFanout({
    cache: createMemoryCache({ maxEntries: 10 }),
    bus: hub.bus(),
    node: 'node-b',
    log: { info() {}, error() {}, warn: (_o: object, msg?: string) => warnings.push(msg ?? '') },
    refs,
  });
  const heard: HostMessage[] = [];
  fanout.subscribe((m) => heard.push(m));
  return { sender, heard, warnings, release };
}

const settle = () => new Promise((r) => setTimeout(r, 30));

describe('messages heard while one by reference is being resolved', () => {
  it('wait for it and are then delivered in the order heard', async () => {
    const n = node();
    await n.sender.publish('events', message(1, 'run_refs'));
    await n.sender.publish('events', message(2));
    await n.sender.publish('events', message(3));
    await settle();
    expect(n.heard).toEqual([]);
    n.release(message(1, 'run_refs'));
    await settle();
    expect(n.heard.map((m) => (m.kind === 'run' ? m.seq : -1))).toEqual([1, 2, 3]);
    // Nothing waits any more: the next one goes straight through.
    await n.sender.publish('events', message(4));
    await settle();
    expect(n.heard).toHaveLength(4);
  });

  it('go on in order when it cannot be resolved: that one is dropped, with one warning', async () => {
    const n = node();
    await n.sender.publish('events', message(1, 'run_refs'));
    await n.sender.publish('events', message(2));
    await settle();
    n.release(null);
    await settle();
    expect(n.heard.map((m) => (m.kind === 'run' ? m.seq : -1))).toEqual([2]);
    expect(n.warnings).toEqual(['a fan-out message referenced what the store does not hold: dropped']);
  });

  it('are kept up to a bound and dropped beyond it (logged once), never without end', async () => {
    const n = node();
    await n.sender.publish('events', message(1, 'run_refs'));
    for (let seq = 2; seq <= MAX_WAITING_MESSAGES + 50; seq++) await n.sender.publish('events', message(seq));
    await settle();
    expect(n.heard).toEqual([]);
    expect(n.warnings.filter((w) => w.includes('dropped'))).toHaveLength(1);
    n.release(message(1, 'run_refs'));
    await settle();
    const seqs = n.heard.map((m) => (m.kind === 'run' ? m.seq : -1));
    expect(seqs).toHaveLength(MAX_WAITING_MESSAGES);
    expect(seqs.at(0)).toBe(1);
    expect(seqs.at(-1)).toBe(MAX_WAITING_MESSAGES);
  });
});
