import type { Bus, Json } from './types.ts';

interface Subscriber {
  onMessage: (message: Json) => void;
  onReconnect: (() => void) | undefined;
  /** Whether it wants the messages this bus published itself. */
  own: boolean;
}

/** What a bus adapter does when a channel gets its first subscriber or loses its last. */
export interface ChannelHooks {
  opened?: (channel: string) => void;
  closed?: (channel: string) => void;
}

/** The subscribers of one bus, by channel: the part every `Bus` adapter shares. */
export interface Subscribers {
  /** Adds a subscriber, as `Bus.subscribe` does; returns its unsubscribe function. */
  add: Bus['subscribe'];
  /** Whether `channel` has subscribers (so a message for it is worth parsing); of one this bus
   *  published itself (`own`), subscribers that want those. */
  has(channel: string, own?: boolean): boolean;
  /** Every channel with subscribers. */
  channels(): string[];
  /** Gives `message` to each subscriber of `channel` (that wants it, when this bus published it). */
  deliver(channel: string, message: Json, own?: boolean): void;
  /** Tells every subscriber the connection came back (they catch up from the record). */
  reconnected(): void;
  clear(): void;
}

/**
 * A registry of subscribers. One subscriber's exception stops neither the delivery to the others
 * nor the process: the subscriber owns its errors, the bus has nobody to report them to.
 */
export function createSubscribers(hooks: ChannelHooks = {}): Subscribers {
  const byChannel = new Map<string, Set<Subscriber>>();
  return {
    add(channel, onMessage, onReconnect, opts) {
      const sub: Subscriber = { onMessage, onReconnect, own: opts?.own !== false };
      let subs = byChannel.get(channel);
      if (subs === undefined) {
        subs = new Set();
        byChannel.set(channel, subs);
        hooks.opened?.(channel);
      }
      subs.add(sub);
      return () => {
        const current = byChannel.get(channel);
        if (current === undefined || !current.delete(sub) || current.size > 0) return;
        byChannel.delete(channel);
        hooks.closed?.(channel);
      };
    },
    has(channel, own = false) {
      const subs = byChannel.get(channel);
      if (subs === undefined) return false;
      if (!own) return true;
      for (const s of subs) if (s.own) return true;
      return false;
    },
    channels: () => [...byChannel.keys()],
    deliver(channel, message, own = false) {
      const subs = byChannel.get(channel);
      if (subs === undefined) return;
      for (const s of [...subs]) if (!own || s.own) safely(() => s.onMessage(message));
    },
    reconnected() {
      for (const subs of byChannel.values()) for (const s of subs) safely(s.onReconnect);
    },
    clear: () => byChannel.clear(),
  };
}

function safely(fn: (() => void) | undefined): void {
  try {
    fn?.();
  } catch {
    // See createSubscribers.
  }
}
