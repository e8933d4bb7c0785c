/**
 * An in-memory DatagramTransport for lockstep tests: what the endpoint sends is recorded and
 * decoded, and datagrams from peers are delivered by the test, one at a time.
 */

import { type CoapMessage, decodeMessage, encodeMessage } from '../../src/coap/message.js';
import type {
  DatagramPeer,
  DatagramReceiver,
  DatagramTransport,
} from '../../src/transport/datagram.js';

export class FakeTransport implements DatagramTransport {
  readonly scheme = 'coap';
  readonly sent: { peer: DatagramPeer; data: Buffer }[] = [];
  #receiver: DatagramReceiver | undefined;
  closed = false;
  /** When set, every sent datagram is also handed to this function (to link two endpoints). */
  onSend: ((peer: DatagramPeer, data: Buffer) => void) | undefined;

  send(peer: DatagramPeer, data: Uint8Array): void {
    const buf = Buffer.from(data);
    this.sent.push({ peer, data: buf });
    this.onSend?.(peer, buf);
  }

  onReceive(receiver: DatagramReceiver): void {
    this.#receiver = receiver;
  }

  address(): { address: string; port: number } {
    return { address: '192.0.2.1', port: 5683 };
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** Delivers a datagram (bytes or a message to encode) as if `peer` had sent it. */
  deliver(peer: DatagramPeer, data: Buffer | CoapMessage): void {
    const bytes = Buffer.isBuffer(data) ? data : encodeMessage(data);
    this.#receiver?.(bytes, peer);
  }

  /** Decodes and removes everything sent so far. */
  take(): CoapMessage[] {
    const out = this.sent.splice(0).map(({ data }) => {
      const d = decodeMessage(data);
      if (!d.ok) throw new Error(`endpoint sent a malformed datagram: ${d.error.message}`);
      return d.message;
    });
    return out;
  }

  /** Decodes and removes the one message sent since the last call; fails on zero or several. */
  takeOne(): CoapMessage {
    const all = this.take();
    if (all.length !== 1) throw new Error(`expected one datagram, got ${all.length}`);
    return all[0]!;
  }
}

export const devicePeer: DatagramPeer = {
  key: 'udp:198.51.100.7:56830',
  address: '198.51.100.7',
  port: 56830,
};
export const otherPeer: DatagramPeer = {
  key: 'udp:198.51.100.8:5683',
  address: '198.51.100.8',
  port: 5683,
};

/** Lets pending promise callbacks (handlers, continuations) run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

/** Links two fake transports: what one sends, the other receives from `peerOf`. */
export function linkTransports(
  a: FakeTransport,
  aPeer: DatagramPeer,
  b: FakeTransport,
  bPeer: DatagramPeer,
): void {
  a.onSend = (_peer, data) => queueMicrotask(() => b.deliver(aPeer, data));
  b.onSend = (_peer, data) => queueMicrotask(() => a.deliver(bPeer, data));
}
