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
  readonly #maxReplyBytes: number;
  #replyBytes = 0;
  // Insertion order is expiry order (one lifetime for all), so pruning only looks at the front.
  readonly #entries = new Map<string, DedupEntry>();

  /**
   * `maxEntries` bounds the remembered messages and `maxReplyBytes` the cached replies: past
   * either, the oldest entries are forgotten first.
   */
  constructor(clock: Clock, lifetimeMs: number, maxEntries: number, maxReplyBytes = 16 << 20) {
    this.#clock = clock;
    this.#lifetimeMs = lifetimeMs;
    this.#maxEntries = maxEntries;
    this.#maxReplyBytes = maxReplyBytes;
  }

  /** The entry of a message already seen, or `undefined` after recording this one as seen. */
  seen(peerKey: string, messageId: number): DedupEntry | undefined {
    this.prune();
    const key = `${peerKey}#${messageId}`;
    const found = this.#entries.get(key);
    if (found) return found;
    // Bounded memory: the oldest entry goes first when the table is full.
    if (this.#entries.size >= this.#maxEntries) this.#evictOldest();
    this.#entries.set(key, { expiresAt: this.#clock.now() + this.#lifetimeMs, reply: undefined });
    return undefined;
  }

  /** Records the reply sent to a message, for replay to its duplicates. */
  setReply(peerKey: string, messageId: number, reply: Buffer): void {
    const entry = this.#entries.get(`${peerKey}#${messageId}`);
    if (!entry) return;
    this.#replyBytes += reply.length - (entry.reply?.length ?? 0);
    entry.reply = reply;
    while (this.#replyBytes > this.#maxReplyBytes && this.#entries.size > 0) this.#evictOldest();
  }

  #evictOldest(): void {
    const oldest = this.#entries.entries().next();
    if (oldest.done) return;
    this.#delete(oldest.value[0], oldest.value[1]);
  }

  #delete(key: string, entry: DedupEntry): void {
    this.#entries.delete(key);
    this.#replyBytes -= entry.reply?.length ?? 0;
  }

  prune(): void {
    const now = this.#clock.now();
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt > now) break;
      this.#delete(key, entry);
    }
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Bytes of cached replies. */
  get replyBytes(): number {
    return this.#replyBytes;
  }

  clear(): void {
    this.#entries.clear();
    this.#replyBytes = 0;
  }
}
