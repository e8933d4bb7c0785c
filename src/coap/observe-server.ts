/**
 * Server side of Observe (RFC 7641 §4): the observers of our resources, each known by peer and
 * token, with the sequence numbers of their notifications.
 */
import type { DatagramPeer } from '../transport/datagram.js';
import type { CoapMessage } from './message.js';
import type { OutgoingResponse } from './request.js';

/** One registered observer, returned by `endpoint.acceptObserve()`. */
export interface ServerObservation {
  readonly peer: DatagramPeer;
  readonly token: Buffer;
  /** True until the observer cancels, rejects a notification or gets an error notification. */
  readonly active: boolean;
  /**
   * Sends a notification (RFC 7641 §4.2) with the next sequence number. Confirmable by default
   * false; a CON notification that is not acknowledged ends the observation (§4.5).
   */
  notify(response: OutgoingResponse, options?: { confirmable?: boolean }): void;
  /** Ends the observation from our side (the next request or nothing follows). */
  cancel(): void;
  /** Called once when the observation ends, for whatever reason. */
  onCancel: (() => void) | undefined;
}

export interface ObserverEntry {
  readonly peer: DatagramPeer;
  readonly token: Buffer;
  /** The registering request (its options key the Block2 cache of large notifications). */
  readonly request: CoapMessage;
  /** RFC 7641 §4.4: 24-bit sequence number of the next notification. */
  seq: number;
  /** Local time of the last CON notification (or of the registration), RFC 7641 §4.5. */
  lastConfirmableAt: number;
  /** Message ID of a CON notification still being retransmitted, RFC 7641 §4.5.2. */
  pendingConfirmable: number | undefined;
  /** Message IDs of NON notifications still answerable with RST. */
  readonly nonMessageIds: number[];
  active: boolean;
  handle: ServerObservation | undefined;
}

const key = (peerKey: string, token: Buffer) => `${peerKey}|${token.toString('hex')}`;

export class ServerObserveRegistry {
  readonly #entries = new Map<string, ObserverEntry>();
  readonly #byNonMessageId = new Map<string, ObserverEntry>();

  get(peerKey: string, token: Buffer): ObserverEntry | undefined {
    return this.#entries.get(key(peerKey, token));
  }

  add(entry: ObserverEntry): void {
    const k = key(entry.peer.key, entry.token);
    const old = this.#entries.get(k);
    if (old && old !== entry) this.end(old);
    this.#entries.set(k, entry);
  }

  /** Ends an observation and tells its owner. */
  end(entry: ObserverEntry): void {
    const k = key(entry.peer.key, entry.token);
    if (this.#entries.get(k) === entry) this.#entries.delete(k);
    for (const mid of entry.nonMessageIds) this.#byNonMessageId.delete(`${entry.peer.key}#${mid}`);
    if (!entry.active) return;
    entry.active = false;
    entry.handle?.onCancel?.();
  }

  remove(peerKey: string, token: Buffer): void {
    const entry = this.#entries.get(key(peerKey, token));
    if (entry) this.end(entry);
  }

  /** RFC 7641 §3.6: an RST to a NON notification ends its observation. */
  resetByMessageId(peerKey: string, messageId: number): boolean {
    const entry = this.#byNonMessageId.get(`${peerKey}#${messageId}`);
    if (!entry) return false;
    this.end(entry);
    return true;
  }

  /** Remembers the message ID of a NON notification (the last few per observer). */
  trackNon(entry: ObserverEntry, messageId: number): void {
    entry.nonMessageIds.push(messageId);
    this.#byNonMessageId.set(`${entry.peer.key}#${messageId}`, entry);
    if (entry.nonMessageIds.length > 8) {
      const old = entry.nonMessageIds.shift()!;
      this.#byNonMessageId.delete(`${entry.peer.key}#${old}`);
    }
  }

  get size(): number {
    return this.#entries.size;
  }

  clear(): void {
    for (const entry of [...this.#entries.values()]) this.end(entry);
    this.#entries.clear();
    this.#byNonMessageId.clear();
  }
}
