import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { DatagramPeer, DatagramReceiver, DatagramTransport } from '../transport/datagram.js';
import { DtlsServer, type DtlsServerOptions, type DtlsServerStats } from './server.js';

export interface DtlsServerTransportOptions extends DtlsServerOptions {
  /** Address to bind; default 127.0.0.1 (as the UDP transport). */
  host?: string;
  /** Port to bind; default 0 (any free port); coaps is 5684 (RFC 7252 §12.7). */
  port?: number;
  /** Bind an IPv6 socket to IPv6 only (default false: `::` also takes IPv4). */
  ipv6Only?: boolean;
}

/**
 * The `coaps` datagram transport: a DTLS 1.2 server on a node:dgram socket serving many peers.
 * A peer's `key` names its DTLS session (kept across address changes with a connection ID) and
 * its `identity` is what the handshake authenticated: PSK identity, raw public key or X.509
 * subject.
 */
export class DtlsServerTransport implements DatagramTransport {
  readonly scheme = 'coaps';
  readonly server: DtlsServer;
  readonly #socket: Socket;
  readonly #options: DtlsServerTransportOptions;
  #bound: { address: string; port: number } | undefined;
  #closed = false;
  #inflight = 0;
  #drained: (() => void)[] = [];

  constructor(options: DtlsServerTransportOptions) {
    this.#options = options;
    this.#socket = createSocket({
      type: options.host && isIPv6(options.host) ? 'udp6' : 'udp4',
      ipv6Only: options.ipv6Only ?? false,
    });
    this.server = new DtlsServer(options, (datagram, address, port) => {
      if (this.#closed) return;
      this.#inflight++;
      this.#socket.send(datagram, port, address, (err) => {
        if (err) options.logger?.debug({ err, address, port }, 'dtls: send failed');
        if (--this.#inflight === 0) for (const f of this.#drained.splice(0)) f();
      });
    });
    this.#socket.on('message', (msg, rinfo) => {
      // One device, one address on a dual-stack socket (as the UDP transport does).
      const address =
        rinfo.address.startsWith('::ffff:') && rinfo.address.includes('.')
          ? rinfo.address.slice(7)
          : rinfo.address;
      this.server.receive(msg, address, rinfo.port);
    });
    this.#socket.on('error', (err) => options.logger?.warn({ err }, 'dtls: socket error'));
  }

  get stats(): DtlsServerStats {
    return this.server.stats;
  }

  /** Creates a transport and binds its socket (as `UdpTransport.bind`). */
  static async bind(options: DtlsServerTransportOptions): Promise<DtlsServerTransport> {
    const transport = new DtlsServerTransport(options);
    await transport.listen();
    return transport;
  }

  /** Binds the socket. */
  listen(): Promise<{ address: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.#socket.once('error', reject);
      this.#socket.bind(this.#options.port ?? 0, this.#options.host ?? '127.0.0.1', () => {
        this.#socket.off('error', reject);
        const a = this.#socket.address();
        this.#bound = { address: a.address, port: a.port };
        resolve(this.#bound);
      });
    });
  }

  send(peer: DatagramPeer, data: Uint8Array): void {
    if (!this.server.send(peer.key, data)) {
      this.#options.logger?.debug(
        { peer: peer.key },
        'dtls: no session for peer, datagram dropped',
      );
    }
  }

  onReceive(receiver: DatagramReceiver): void {
    this.server.onData(receiver);
  }

  address(): { address: string; port: number } | undefined {
    return this.#bound;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.server.close(); // close_notify to every session (RFC 5246 §7.2.1)
    this.#closed = true;
    // Let the close_notify datagrams leave before the socket goes.
    if (this.#inflight > 0) await new Promise<void>((resolve) => this.#drained.push(resolve));
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
  }
}
