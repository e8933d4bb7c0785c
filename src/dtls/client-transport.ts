import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import type {
  DatagramPeer,
  DatagramReceiver,
  DatagramTransport,
  PeerIdentity,
} from '../transport/datagram.js';
import { DtlsClient, type DtlsClientOptions } from './client.js';

export interface DtlsClientTransportOptions extends DtlsClientOptions {
  /** The server's address and port. */
  host: string;
  port: number;
  /** Local address to bind; default any. */
  localAddress?: string;
}

/**
 * The `coaps` datagram transport of a client: one DTLS 1.2 association with one server over a
 * node:dgram socket. The handshake starts on the first `send` (or `connect()`), and data is
 * queued until it completes.
 */
export class DtlsClientTransport implements DatagramTransport {
  readonly scheme = 'coaps';
  readonly client: DtlsClient;
  readonly #socket: Socket;
  readonly #options: DtlsClientTransportOptions;
  readonly #peer: { key: string; address: string; port: number; identity?: PeerIdentity };
  #bound: Promise<void> | undefined;
  #address: { address: string; port: number } | undefined;
  #closed = false;
  #inflight = 0;
  #drained: (() => void)[] = [];

  constructor(options: DtlsClientTransportOptions) {
    this.#options = options;
    this.#socket = createSocket(isIP(options.host) === 6 ? 'udp6' : 'udp4');
    this.#peer = {
      key: `dtls:${isIP(options.host) === 6 ? `[${options.host}]` : options.host}:${options.port}`,
      address: options.host,
      port: options.port,
    };
    this.client = new DtlsClient(options, (datagram) => {
      if (this.#closed) return;
      this.#inflight++;
      const done = () => {
        if (--this.#inflight === 0) for (const f of this.#drained.splice(0)) f();
      };
      void this.#bind().then(() => {
        this.#socket.send(datagram, options.port, options.host, (err) => {
          if (err) options.logger?.debug({ err }, 'dtls: send failed');
          done();
        });
      });
    });
    this.#socket.on('message', (msg, rinfo) => {
      // Only the server's datagrams count.
      if (rinfo.port === options.port) this.client.receive(msg);
    });
    this.#socket.on('error', (err) => options.logger?.warn({ err }, 'dtls: socket error'));
  }

  /** The server, as the peer of every datagram received. */
  get peer(): DatagramPeer {
    this.#peer.identity = this.client.serverIdentity;
    return this.#peer;
  }

  #bind(): Promise<void> {
    this.#bound ??= new Promise<void>((resolve) => {
      this.#socket.bind(0, this.#options.localAddress, () => {
        const a = this.#socket.address();
        this.#address = { address: a.address, port: a.port };
        resolve();
      });
    });
    return this.#bound;
  }

  /** Binds and completes the handshake. */
  async connect(): Promise<void> {
    await this.#bind();
    await this.client.connect();
  }

  send(_peer: DatagramPeer, data: Uint8Array): void {
    this.client.send(data);
  }

  onReceive(receiver: DatagramReceiver): void {
    this.client.onData((data) => receiver(data, this.peer));
  }

  address(): { address: string; port: number } | undefined {
    return this.#address;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.client.close(); // close_notify (RFC 5246 §7.2.1)
    this.#closed = true;
    // Let the close_notify datagram leave before the socket goes.
    if (this.#inflight > 0) await new Promise<void>((resolve) => this.#drained.push(resolve));
    if (this.#bound) {
      await this.#bound;
      await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
    }
  }
}
