/**
 * Message deduplication (RFC 7252 §4.5): every CON and NON received is remembered by peer and
 * message ID for EXCHANGE_LIFETIME, with the reply we sent to it, so that a duplicate CON gets the
 * same reply again and a duplicate is never processed twice.
 */
import type { Clock } from '../util/clock.js';

export interface DedupEntry {
  readonly expiresAt: number;
  /** The encoded reply (ACK, piggy-backed response or RST) to replay for a duplicate. */
  reply: Buffer | undefined;
}

export class Deduplicator {
  readonly #clock: Clock;
  readonly #lifetimeMs: number;
  readonly #maxEntries: number;
  // Insertion order is expiry order (one lifetime for all), so pruning only looks at the front.
  readonly #entries = new Map<string, DedupEntry>();

  constructor(clock: Clock, lifetimeMs: number, maxEntries: number) {
    this.#clock = clock;
    this.#lifetimeMs = lifetimeMs;
    this.#maxEntries = maxEntries;
  }

  /** The entry of a message already seen, or `undefined` after recording this one as seen. */
  seen(peerKey: string, messageId: number): DedupEntry | undefined {
    this.prune();
    const key = `${peerKey}#${messageId}`;
    const found = this.#entries.get(key);
    if (found) return found;
    // Bounded memory: the oldest entry goes first when the table is full.
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { expiresAt: this.#clock.now() + this.#lifetimeMs, reply: undefined });
    return undefined;
  }

  /** Records the reply sent to a message, for replay to its duplicates. */
  setReply(peerKey: string, messageId: number, reply: Buffer): void {
    const entry = this.#entries.get(`${peerKey}#${messageId}`);
    if (entry) entry.reply = reply;
  }

  prune(): void {
    const now = this.#clock.now();
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt > now) break;
      this.#entries.delete(key);
    }
  }

  get size(): number {
    return this.#entries.size;
  }

  clear(): void {
    this.#entries.clear();
  }
}
