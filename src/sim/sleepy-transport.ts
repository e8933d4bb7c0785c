/**
 * A datagram transport with a radio that can be off: a queue-mode device (LwM2M-TS-Core 1.1
 * §6.5) is unreachable while it sleeps, so datagrams in either direction are dropped until it
 * wakes. The server learns that it is awake from the registration Update it then sends; the
 * device stays awake for a while after the last datagram either way (TS-Core 1.1 §6.5).
 */
import type { DatagramPeer, DatagramReceiver, DatagramTransport } from '../transport/datagram.js';

export class SleepyTransport implements DatagramTransport {
  readonly #inner: DatagramTransport;
  awake = true;
  /** Datagrams dropped while asleep. */
  dropped = 0;
  /** When a datagram last went either way while awake (ms since the epoch). */
  lastActivity = 0;

  constructor(inner: DatagramTransport) {
    this.#inner = inner;
  }

  get scheme(): string {
    return this.#inner.scheme;
  }

  send(peer: DatagramPeer, data: Uint8Array): void {
    if (this.awake) {
      this.lastActivity = Date.now();
      this.#inner.send(peer, data);
    } else this.dropped++;
  }

  onReceive(receiver: DatagramReceiver): void {
    this.#inner.onReceive((data, peer) => {
      if (this.awake) {
        this.lastActivity = Date.now();
        receiver(data, peer);
      } else this.dropped++;
    });
  }

  address(): { address: string; port: number } | undefined {
    return this.#inner.address();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
