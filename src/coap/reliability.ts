/**
 * Reliable transmission of our Confirmable messages (RFC 7252 §4.2): retransmission with a
 * randomised exponential back-off until an ACK or RST with the same message ID arrives, or
 * MAX_RETRANSMIT retransmissions have gone unanswered.
 */
import type { DatagramPeer } from '../transport/datagram.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import type { CoapMessage } from './message.js';
import type { TransmissionParameters } from './parameters.js';

export type TransmissionOutcome =
  | { readonly kind: 'ack'; readonly message: CoapMessage }
  | { readonly kind: 'rst'; readonly message: CoapMessage }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'cancelled' };

interface Outstanding {
  readonly peer: DatagramPeer;
  readonly data: Buffer;
  timeoutMs: number;
  retransmissions: number;
  timer: TimerHandle | undefined;
  readonly done: (outcome: TransmissionOutcome) => void;
}

export interface ReliabilityDeps {
  readonly clock: Clock;
  readonly random: () => number;
  readonly params: TransmissionParameters;
  readonly send: (peer: DatagramPeer, data: Buffer) => void;
  readonly onRetransmit: () => void;
}

export class ReliabilityLayer {
  readonly #deps: ReliabilityDeps;
  readonly #outstanding = new Map<string, Outstanding>();

  constructor(deps: ReliabilityDeps) {
    this.#deps = deps;
  }

  /** Sends an encoded CON now and retransmits it until `done` is called with its outcome. */
  sendConfirmable(
    peer: DatagramPeer,
    messageId: number,
    data: Buffer,
    done: (outcome: TransmissionOutcome) => void,
  ): void {
    const { params, random } = this.#deps;
    // RFC 7252 §4.2: the initial timeout is random between ACK_TIMEOUT and
    // ACK_TIMEOUT * ACK_RANDOM_FACTOR.
    const initial = params.ackTimeoutMs * (1 + random() * (params.ackRandomFactor - 1));
    const entry: Outstanding = {
      peer,
      data,
      timeoutMs: initial,
      retransmissions: 0,
      timer: undefined,
      done,
    };
    const key = `${peer.key}#${messageId}`;
    this.#outstanding.get(key)?.done({ kind: 'cancelled' });
    this.#outstanding.set(key, entry);
    this.#deps.send(peer, data);
    this.#arm(key, entry);
  }

  #arm(key: string, entry: Outstanding): void {
    entry.timer = this.#deps.clock.setTimeout(() => this.#fire(key, entry), entry.timeoutMs);
    entry.timer.unref?.();
  }

  #fire(key: string, entry: Outstanding): void {
    if (this.#outstanding.get(key) !== entry) return;
    // RFC 7252 §4.2: after MAX_RETRANSMIT retransmissions the attempt is given up.
    if (entry.retransmissions >= this.#deps.params.maxRetransmit) {
      this.#outstanding.delete(key);
      entry.done({ kind: 'timeout' });
      return;
    }
    entry.retransmissions++;
    // RFC 7252 §4.2: the timeout doubles with every retransmission.
    entry.timeoutMs *= 2;
    this.#deps.onRetransmit();
    this.#deps.send(entry.peer, entry.data);
    this.#arm(key, entry);
  }

  /**
   * Matches an incoming ACK or RST to an outstanding CON (RFC 7252 §4.2: by message ID, per
   * peer). Returns false when nothing was waiting for it.
   */
  settle(peerKey: string, message: CoapMessage): boolean {
    const key = `${peerKey}#${message.messageId}`;
    const entry = this.#outstanding.get(key);
    if (!entry) return false;
    this.#outstanding.delete(key);
    if (entry.timer) this.#deps.clock.clearTimeout(entry.timer);
    entry.done(message.type === 3 ? { kind: 'rst', message } : { kind: 'ack', message });
    return true;
  }

  /** Stops retransmitting one message (its exchange is over for another reason). */
  cancel(peerKey: string, messageId: number): void {
    const key = `${peerKey}#${messageId}`;
    const entry = this.#outstanding.get(key);
    if (!entry) return;
    this.#outstanding.delete(key);
    if (entry.timer) this.#deps.clock.clearTimeout(entry.timer);
    entry.done({ kind: 'cancelled' });
  }

  cancelAll(): void {
    for (const [key, entry] of this.#outstanding) {
      this.#outstanding.delete(key);
      if (entry.timer) this.#deps.clock.clearTimeout(entry.timer);
      entry.done({ kind: 'cancelled' });
    }
  }

  get size(): number {
    return this.#outstanding.size;
  }
}
