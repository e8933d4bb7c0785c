/**
 * Message deduplication (RFC 7252 §4.5): every CON and NON received is remembered by peer and
 * message ID for EXCHANGE_LIFETIME, with the reply we sent to it, so that a duplicate CON gets the
 * same reply again and a duplicate is never processed twice.
 *
 * Compact and without timers: per peer, a Map from message ID (a small integer) to the reply;
 * and one ring of (peer, message ID, arrival time) in arrival order (one lifetime for all, so
 * arrival order is expiry order). Expired and surplus entries leave from the ring's head in
 * O(1) each; an empty ACK, the usual reply, is stored as a number rather than a Buffer.
 */
import type { Clock } from '../util/clock.js';
import { encodeEmpty, MessageType } from './message.js';

/** Stored for a message not answered yet (a NON, or a CON whose handler still runs). */
const NO_REPLY = 0;
/** Stored for a CON answered with an empty ACK (RFC 7252 §4.2); rebuilt on replay. */
const EMPTY_ACK = 1;

type Stored = Buffer | typeof NO_REPLY | typeof EMPTY_ACK;

interface PeerHistory {
  readonly key: string;
  readonly ids: Map<number, Stored>;
}

export class Deduplicator {
  readonly #clock: Clock;
  readonly #lifetimeMs: number;
  readonly #maxEntries: number;
  readonly #maxReplyBytes: number;
  #replyBytes = 0;
  readonly #peers = new Map<string, PeerHistory>();
  /** Ring of arrivals, oldest at `#head`; grows by doubling up to `#maxEntries`. */
  #ringPeers: (PeerHistory | undefined)[] = new Array(64);
  #ringIds = new Uint16Array(64);
  #ringTimes = new Float64Array(64);
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
    let peer = this.#peers.get(peerKey);
    if (peer) {
      const found = peer.ids.get(messageId);
      if (found !== undefined) {
        if (found === NO_REPLY) return null;
        return found === EMPTY_ACK ? encodeEmpty(MessageType.Ack, messageId) : found;
      }
    }
    // Bounded memory: the oldest entry goes first when the table is full.
    if (this.#count >= this.#maxEntries) this.#dropOldest();
    peer ??= { key: peerKey, ids: new Map() };
    // New, or emptied and forgotten by the drop just above.
    if (peer.ids.size === 0) this.#peers.set(peerKey, peer);
    peer.ids.set(messageId, NO_REPLY);
    this.#push(peer, messageId, now);
    return undefined;
  }

  /** Records the reply sent to a message, for replay to its duplicates. */
  setReply(peerKey: string, messageId: number, reply: Buffer): void {
    const ids = this.#peers.get(peerKey)?.ids;
    const entry = ids?.get(messageId);
    if (entry === undefined) return;
    if (isEmptyAck(reply)) {
      ids!.set(messageId, EMPTY_ACK);
      this.#replyBytes -= sizeOf(entry);
      return;
    }
    this.#replyBytes += reply.length - sizeOf(entry);
    ids!.set(messageId, reply);
    while (this.#replyBytes > this.#maxReplyBytes && this.#count > 0) this.#dropOldest();
  }

  #push(peer: PeerHistory, messageId: number, now: number): void {
    if (this.#count === this.#ringPeers.length) this.#grow();
    const tail = (this.#head + this.#count) % this.#ringPeers.length;
    this.#ringPeers[tail] = peer;
    this.#ringIds[tail] = messageId;
    this.#ringTimes[tail] = now;
    this.#count++;
  }

  #grow(): void {
    const size = this.#ringPeers.length;
    const peers = new Array<PeerHistory | undefined>(size * 2);
    const ids = new Uint16Array(size * 2);
    const times = new Float64Array(size * 2);
    for (let i = 0; i < this.#count; i++) {
      const j = (this.#head + i) % size;
      peers[i] = this.#ringPeers[j];
      ids[i] = this.#ringIds[j]!;
      times[i] = this.#ringTimes[j]!;
    }
    this.#ringPeers = peers;
    this.#ringIds = ids;
    this.#ringTimes = times;
    this.#head = 0;
  }

  #dropOldest(): void {
    const head = this.#head;
    const peer = this.#ringPeers[head]!;
    const messageId = this.#ringIds[head]!;
    this.#ringPeers[head] = undefined;
    this.#head = (head + 1) % this.#ringPeers.length;
    this.#count--;
    this.#replyBytes -= sizeOf(peer.ids.get(messageId));
    peer.ids.delete(messageId);
    if (peer.ids.size === 0 && this.#peers.get(peer.key) === peer) this.#peers.delete(peer.key);
  }

  #expire(now: number): void {
    const cutoff = now - this.#lifetimeMs;
    while (this.#count > 0 && this.#ringTimes[this.#head]! <= cutoff) this.#dropOldest();
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
    this.#peers.clear();
    this.#ringPeers = new Array(64);
    this.#ringIds = new Uint16Array(64);
    this.#ringTimes = new Float64Array(64);
    this.#head = 0;
    this.#count = 0;
    this.#replyBytes = 0;
  }
}

const sizeOf = (stored: Stored | undefined): number =>
  typeof stored === 'object' ? stored.length : 0;

const isEmptyAck = (b: Buffer): boolean => b.length === 4 && b[0] === 0x60 && b[1] === 0;
