import type { DatagramPeer, DatagramReceiver, DatagramTransport } from './datagram.js';

/**
 * A transport that holds what it receives until `release()`: a server binds its sockets before
 * it has resumed what it stored (registrations, observations) and wired its services, and a
 * datagram taken in that window would be answered as unknown, e.g. a notification of a kept
 * observation with RST, which ends the device's observation (RFC 7641 §3.6). Held datagrams are
 * handed over in arrival order on release; past `limit` they are dropped and counted, as a full
 * socket buffer would (the devices' CON retransmissions, RFC 7252 §4.2, bring them again).
 * Sending is not held. After release the receiver is the inner transport's own: no cost per
 * datagram.
 */
export class HeldTransport implements DatagramTransport {
  readonly #inner: DatagramTransport;
  readonly #limit: number;
  #held: { data: Buffer; peer: DatagramPeer }[] | undefined = [];
  #receiver: DatagramReceiver | undefined;
  /** Datagrams dropped because `limit` were already held. */
  dropped = 0;

  constructor(inner: DatagramTransport, options: { limit: number }) {
    this.#inner = inner;
    this.#limit = options.limit;
    inner.onReceive((data, peer) => {
      const held = this.#held;
      if (!held) this.#receiver?.(data, peer);
      else if (held.length < this.#limit) held.push({ data, peer });
      else this.dropped++;
    });
  }

  get scheme(): string {
    return this.#inner.scheme;
  }

  /** Whether datagrams are still held. */
  get holding(): boolean {
    return this.#held !== undefined;
  }

  /** How many datagrams wait for `release()`. */
  get held(): number {
    return this.#held?.length ?? 0;
  }

  send(peer: DatagramPeer, data: Uint8Array): void {
    this.#inner.send(peer, data);
  }

  onReceive(receiver: DatagramReceiver): void {
    this.#receiver = receiver;
    if (!this.#held) this.#inner.onReceive(receiver);
  }

  /** Hands the held datagrams to the receiver, then lets every later one straight through. */
  release(): number {
    const held = this.#held;
    if (!held) return 0;
    this.#held = undefined;
    const receiver = this.#receiver;
    if (receiver) {
      this.#inner.onReceive(receiver);
      for (const { data, peer } of held) receiver(data, peer);
    }
    return held.length;
  }

  address(): { address: string; port: number } | undefined {
    return this.#inner.address();
  }

  close(): Promise<void> {
    if (this.#held) this.#held.length = 0;
    return this.#inner.close();
  }
}
