/**
 * Message IDs for the messages we originate (RFC 7252 §4.4): one counter per peer, starting at a
 * random value, so that an ID is not reused towards the same peer within EXCHANGE_LIFETIME unless
 * 65,536 messages went to that one peer in that time. Idle counters are forgotten after
 * EXCHANGE_LIFETIME, which is when reusing any ID is safe again.
 */
import type { Clock } from '../util/clock.js';

interface Counter {
  next: number;
  lastUsed: number;
}

export class MessageIdProvider {
  readonly #clock: Clock;
  readonly #lifetimeMs: number;
  readonly #random: () => number;
  // Map order is least recently used first: a used counter moves to the end.
  readonly #counters = new Map<string, Counter>();

  constructor(clock: Clock, lifetimeMs: number, random: () => number) {
    this.#clock = clock;
    this.#lifetimeMs = lifetimeMs;
    this.#random = random;
  }

  next(peerKey: string): number {
    const now = this.#clock.now();
    for (const [key, c] of this.#counters) {
      if (c.lastUsed + this.#lifetimeMs > now) break;
      this.#counters.delete(key);
    }
    let counter = this.#counters.get(peerKey);
    if (counter) this.#counters.delete(peerKey);
    // RFC 7252 §4.4: the initial Message ID should be randomised.
    else counter = { next: Math.floor(this.#random() * 0x10000) & 0xffff, lastUsed: now };
    const id = counter.next;
    counter.next = (id + 1) & 0xffff;
    counter.lastUsed = now;
    this.#counters.set(peerKey, counter);
    return id;
  }

  /** Number of peers with a live counter. */
  get size(): number {
    return this.#counters.size;
  }

  clear(): void {
    this.#counters.clear();
  }
}
