import type { Sql } from 'postgres';
import { createSubscribers } from './bus-subscribers.ts';
import type { Bus, Json } from './types.ts';

/** Options of `createPostgresBus`. */
export interface PostgresBusOptions {
  /** The NOTIFY channel (default `hitl_bus`). */
  notifyChannel?: string;
  /** Messages older than this are deleted (default 5 minutes). */
  keepMs?: number;
  /** How often this node prunes old messages (default 30 s). */
  pruneEveryMs?: number;
}

/** Own messages kept in memory so this node never reads them back (delivered like the others'). */
const OWN_KEPT = 1000;

/**
 * Cross-node fan-out through Postgres `LISTEN/NOTIFY`, for nodes that share an external Postgres
 * and no Redis (SPEC §8). A NOTIFY payload is capped near 8 KB, so a message is stored in
 * `bus_messages` and only its id is notified; listeners read rows by id, in id order. As with
 * Redis, delivery is at-most-once: after the listening connection comes back, `onReconnect` lets
 * subscribers catch up from the record.
 */
export function createPostgresBus(sql: Sql, options: PostgresBusOptions = {}): Bus {
  const notifyChannel = options.notifyChannel ?? 'hitl_bus';
  const keepMs = options.keepMs ?? 5 * 60_000;
  const subscribers = createSubscribers();
  const own = new Map<string, { channel: string; raw: string }>();
  let pending = new Set<string>();
  let reading = false;
  let listens = 0;
  let publishFailed = false;
  let listenFailed = false;
  let closed = false;

  /** `own`: this bus published it (subscribers that ignore their own bus's messages skip it). */
  function deliver(channel: string, raw: string, own: boolean): void {
    if (!subscribers.has(channel, own)) return;
    let message: Json;
    try {
      message = JSON.parse(raw) as Json;
    } catch {
      return;
    }
    subscribers.deliver(channel, message, own);
  }

  /** Read the notified ids (batched while a read is running), then deliver in id order. */
  async function readPending(): Promise<void> {
    if (reading || closed) return;
    reading = true;
    try {
      while (pending.size > 0 && !closed) {
        const ids = [...pending].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
        pending = new Set();
        const foreign = ids.filter((id) => !own.has(id));
        const rows =
          foreign.length === 0
            ? []
            : await sql<{ id: string; channel: string; message: string }[]>`
                select id::text, channel, message from bus_messages
                 where id = any(${foreign}::bigint[]) order by id`.catch(() => []);
        const byId = new Map(rows.map((r) => [r.id, r]));
        for (const id of ids) {
          const mine = own.get(id);
          if (mine) deliver(mine.channel, mine.raw, true);
          else {
            const m = byId.get(id);
            if (m) deliver(m.channel, m.message, false);
          }
        }
      }
    } finally {
      reading = false;
    }
  }

  const listening = sql
    .listen(
      notifyChannel,
      (payload) => {
        if (!/^\d{1,19}$/.test(payload)) return;
        pending.add(payload);
        void readPending();
      },
      () => {
        listenFailed = false;
        // Called on every (re)connect of the listening connection; the first one is the start.
        if (listens++ > 0) subscribers.reconnected();
      },
    )
    .catch(() => {
      listenFailed = true;
      return null;
    });

  const prune = setInterval(() => {
    void sql`delete from bus_messages where created_at < now() - ${keepMs / 1000} * interval '1 second'`.catch(
      () => undefined,
    );
  }, options.pruneEveryMs ?? 30_000);
  prune.unref();

  /** The messages published in this tick (a group commit's), written by one statement. */
  let queued: Array<{ channel: string; raw: string; sent: () => void }> = [];

  async function send(batch: typeof queued): Promise<void> {
    try {
      // One statement: the rows and their notifications commit together. The rows are inserted
      // in the order they were published, so their ids (and the listeners' delivery, by id)
      // follow it.
      const rows = await sql<{ id: string }[]>`
        with m as (
          insert into bus_messages (channel, message)
          select x.channel, x.message
            from unnest(${batch.map((m) => m.channel)}::text[], ${batch.map((m) => m.raw)}::text[])
                 with ordinality as x(channel, message, n)
           order by x.n
          returning id)
        select id::text, pg_notify(${notifyChannel}, id::text) from m order by id`;
      publishFailed = false;
      rows.forEach((row, i) => {
        const m = batch[i];
        if (m) own.set(row.id, { channel: m.channel, raw: m.raw });
      });
      while (own.size > OWN_KEPT) own.delete(own.keys().next().value as string);
    } catch {
      // At-most-once, as with Redis: subscribers catch up from the record.
      publishFailed = true;
    }
    for (const m of batch) m.sent();
  }

  return {
    // async: a message that cannot be serialised rejects, as with the other buses, never throws.
    async publish(channel, message) {
      if (closed) return;
      const raw = JSON.stringify(message);
      return new Promise<void>((resolve) => {
        queued.push({ channel, raw, sent: resolve });
        if (queued.length > 1) return;
        process.nextTick(() => {
          const batch = queued;
          queued = [];
          void send(batch);
        });
      });
    },

    subscribe: (channel, onMessage, onReconnect, opts) =>
      subscribers.add(channel, onMessage, onReconnect, opts),

    healthy: () => !closed && listens > 0 && !listenFailed && !publishFailed,

    async close() {
      closed = true;
      clearInterval(prune);
      subscribers.clear();
      const meta = await listening;
      await meta?.unlisten().catch(() => undefined);
    },
  };
}
