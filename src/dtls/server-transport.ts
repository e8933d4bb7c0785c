import { createSocket, type Socket } from 'node:dgram';
import type { DatagramPeer, DatagramReceiver, DatagramTransport } from '../transport/datagram.js';
import { DtlsServer, type DtlsServerOptions, type DtlsServerStats } from './server.js';

export interface DtlsServerTransportOptions extends DtlsServerOptions {
  /** Address to bind; default 0.0.0.0. */
  host?: string;
  /** Port to bind; 0 picks one. Default 5684 (RFC 7252 §12.7 coaps). */
  port?: number;
  type?: 'udp4' | 'udp6';
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

  constructor(options: DtlsServerTransportOptions) {
    this.#options = options;
    this.#socket = createSocket(options.type ?? 'udp4');
    this.server = new DtlsServer(options, (datagram, address, port) => {
      if (this.#closed) return;
      this.#socket.send(datagram, port, address, (err) => {
        if (err) options.logger?.debug({ err, address, port }, 'dtls: send failed');
      });
    });
    this.#socket.on('message', (msg, rinfo) => this.server.receive(msg, rinfo.address, rinfo.port));
    this.#socket.on('error', (err) => options.logger?.warn({ err }, 'dtls: socket error'));
  }

  get stats(): DtlsServerStats {
    return this.server.stats;
  }

  /** Binds the socket. */
  listen(): Promise<{ address: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.#socket.once('error', reject);
      this.#socket.bind(this.#options.port ?? 5684, this.#options.host ?? '0.0.0.0', () => {
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
    this.server.close();
    this.#closed = true;
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
  }
}
