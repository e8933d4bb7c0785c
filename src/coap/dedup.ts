/**
 * Message deduplication (RFC 7252 §4.5): every CON and NON received is remembered by peer and
 * message ID for EXCHANGE_LIFETIME, with the reply we sent to it, so that a duplicate CON gets the
 * same reply again and a duplicate is never processed twice.
 *
 * Compact and without timers: one Map from `peer#messageId` to the reply, and a ring of the keys
 * with their arrival times in arrival order (one lifetime for all, so arrival order is expiry
 * order). Expired and surplus entries leave from the ring's head in O(1) each; an empty ACK,
 * the usual reply, is stored as a number rather than a Buffer.
 */
import type { Clock } from '../util/clock.js';
import { encodeEmpty, MessageType } from './message.js';

/** Stored for a message not answered yet (a NON, or a CON whose handler still runs). */
const NO_REPLY = 0;
/** Stored for a CON answered with an empty ACK (RFC 7252 §4.2); rebuilt on replay. */
const EMPTY_ACK = 1;

type Stored = Buffer | typeof NO_REPLY | typeof EMPTY_ACK;

export class Deduplicator {
  readonly #clock: Clock;
  readonly #lifetimeMs: number;
  readonly #maxEntries: number;
  readonly #maxReplyBytes: number;
  #replyBytes = 0;
  readonly #entries = new Map<string, Stored>();
  /** Ring of keys and arrival times, oldest at `#head`; grows by doubling up to `#maxEntries`. */
  #keys: (string | undefined)[] = new Array(64);
  #times = new Float64Array(64);
  #head = 0;
  #count = 0;

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

  /**
   * A message already seen: its reply to replay (`null` while it has none). `undefined` for a
   * new message, which is recorded as seen.
   */
  seen(peerKey: string, messageId: number): Buffer | null | undefined {
    const now = this.#clock.now();
    this.#expire(now);
    const key = `${peerKey}#${messageId}`;
    const found = this.#entries.get(key);
    if (found !== undefined) {
      if (found === NO_REPLY) return null;
      return found === EMPTY_ACK ? encodeEmpty(MessageType.Ack, messageId) : found;
    }
    // Bounded memory: the oldest entry goes first when the table is full.
    if (this.#count >= this.#maxEntries) this.#dropOldest();
    this.#entries.set(key, NO_REPLY);
    this.#push(key, now);
    return undefined;
  }

  /** Records the reply sent to a message, for replay to its duplicates. */
  setReply(peerKey: string, messageId: number, reply: Buffer): void {
    const key = `${peerKey}#${messageId}`;
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    if (isEmptyAck(reply)) {
      this.#entries.set(key, EMPTY_ACK);
      this.#replyBytes -= sizeOf(entry);
      return;
    }
    this.#replyBytes += reply.length - sizeOf(entry);
    this.#entries.set(key, reply);
    while (this.#replyBytes > this.#maxReplyBytes && this.#count > 0) this.#dropOldest();
  }

  #push(key: string, now: number): void {
    if (this.#count === this.#keys.length) this.#grow();
    const tail = (this.#head + this.#count) % this.#keys.length;
    this.#keys[tail] = key;
    this.#times[tail] = now;
    this.#count++;
  }

  #grow(): void {
    const size = this.#keys.length;
    const keys = new Array<string | undefined>(size * 2);
    const times = new Float64Array(size * 2);
    for (let i = 0; i < this.#count; i++) {
      const j = (this.#head + i) % size;
      keys[i] = this.#keys[j];
      times[i] = this.#times[j]!;
    }
    this.#keys = keys;
    this.#times = times;
    this.#head = 0;
  }

  #dropOldest(): void {
    const key = this.#keys[this.#head]!;
    this.#keys[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#keys.length;
    this.#count--;
    this.#replyBytes -= sizeOf(this.#entries.get(key));
    this.#entries.delete(key);
  }

  #expire(now: number): void {
    const cutoff = now - this.#lifetimeMs;
    while (this.#count > 0 && this.#times[this.#head]! <= cutoff) this.#dropOldest();
  }

  prune(): void {
    this.#expire(this.#clock.now());
  }

  get size(): number {
    return this.#count;
  }

  /** Bytes of cached replies. */
  get replyBytes(): number {
    return this.#replyBytes;
  }

  clear(): void {
    this.#entries.clear();
    this.#keys = new Array(64);
    this.#times = new Float64Array(64);
    this.#head = 0;
    this.#count = 0;
    this.#replyBytes = 0;
  }
}

const sizeOf = (stored: Stored | undefined): number =>
  typeof stored === 'object' ? stored.length : 0;

const isEmptyAck = (b: Buffer): boolean => b.length === 4 && b[0] === 0x60 && b[1] === 0;
