import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { RunHost } from '../../actors/run-host.ts';
import type { Principal } from '../../server/auth/auth.ts';
import { createConnection } from '../../server/ws/connection.ts';
import { silent } from './ws-harness.ts';

/** Just enough of a `ws` socket to watch what the connection does with it. */
function fakeSocket(bufferedAmount: number) {
  const socket = Object.assign(new EventEmitter(), {
    readyState: 1,
    bufferedAmount,
    sent: [] as string[],
    closedWith: null as number | null,
    send(data: string) {
      socket.sent.push(data);
    },
    close(code: number) {
      socket.closedWith = code;
      socket.readyState = 2;
    },
  });
  return socket;
}

const service: Principal = { kind: 'service', keyId: 'abc', actor: 'service:abc' };
const host = {} as RunHost;

describe('socket sends', () => {
  it('sends while the socket keeps up', () => {
    const ws = fakeSocket(0);
    const conn = createConnection(ws as never, service, { host, log: silent, maxBufferedBytes: 1024 });
    expect(conn.send({ type: 'pong', data: {} })).toBe(true);
    expect(ws.sent).toEqual(['{"type":"pong","data":{}}']);
  });

  it('closes a slow consumer with 1008 instead of buffering without bound', () => {
    const ws = fakeSocket(4096);
    const conn = createConnection(ws as never, service, { host, log: silent, maxBufferedBytes: 1024 });
    expect(conn.send({ type: 'pong', data: {} })).toBe(false);
    expect(ws.closedWith).toBe(1008);
    expect(conn.send({ type: 'pong', data: {} })).toBe(false);
    expect(ws.sent).toEqual([]);
  });
});
