/**
 * The datagram transport over plain UDP (node:dgram), IPv4 or IPv6. A peer's key is its address
 * and port, so a device that moves behind NAT appears as a new peer (the LwM2M registration
 * update then moves it).
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';
import type { Logger } from 'pino';
import type { DatagramPeer, DatagramReceiver, DatagramTransport } from '../transport/datagram.js';

export interface UdpTransportOptions {
  /** Address to bind, default `'127.0.0.1'`; `'::'` or `'::1'` for IPv6. */
  readonly address?: string;
  /** Port to bind, default 0 (any free port). */
  readonly port?: number;
  /** Bind an IPv6 socket to IPv6 only (default false: `::` also takes IPv4). */
  readonly ipv6Only?: boolean;
  /**
   * Socket receive buffer in bytes (SO_RCVBUF), for bursts of datagrams from many devices
   * while the event loop is busy: default 4 MiB (Linux caps it at net.core.rmem_max; its own
   * default of about 200 kB holds a few hundred notifications).
   */
  readonly recvBufferSize?: number;
  readonly sendBufferSize?: number;
  readonly logger?: Logger;
}

const DEFAULT_RECV_BUFFER = 4 << 20;

/** A UDP peer (address and port), keyed `udp:address:port` (IPv4) or `udp:[address]:port`. */
export function udpPeer(address: string, port: number): DatagramPeer {
  return peerOf(address, port, isIPv6(address));
}

function peerOf(address: string, port: number, ipv6: boolean): DatagramPeer {
  return { key: ipv6 ? `udp:[${address}]:${port}` : `udp:${address}:${port}`, address, port };
}

export class UdpTransport implements DatagramTransport {
  readonly scheme = 'coap';
  readonly #socket: Socket;
  readonly #logger: Logger | undefined;
  readonly #ipv6: boolean;
  #receiver: DatagramReceiver | undefined;
  #bound: { address: string; port: number } | undefined;
  #closed = false;

  private constructor(socket: Socket, logger: Logger | undefined, ipv6: boolean) {
    this.#socket = socket;
    this.#logger = logger;
    this.#ipv6 = ipv6;
    socket.on('message', (data, rinfo) => {
      const receiver = this.#receiver;
      if (!receiver) return;
      if (rinfo.family === 'IPv4') {
        receiver(data, peerOf(rinfo.address, rinfo.port, false));
        return;
      }
      // Strip an IPv4-mapped prefix so that one device has one key on a dual-stack socket.
      const mapped = rinfo.address.startsWith('::ffff:') && rinfo.address.includes('.');
      receiver(data, peerOf(mapped ? rinfo.address.slice(7) : rinfo.address, rinfo.port, !mapped));
    });
    socket.on('error', (err) => this.#logger?.warn({ err }, 'udp: socket error'));
  }

  /** Binds a socket and resolves once it listens. */
  static async bind(options: UdpTransportOptions = {}): Promise<UdpTransport> {
    const address = options.address ?? '127.0.0.1';
    const ipv6 = isIPv6(address);
    const socket = createSocket({
      type: ipv6 ? 'udp6' : 'udp4',
      ipv6Only: options.ipv6Only ?? false,
      recvBufferSize: options.recvBufferSize ?? DEFAULT_RECV_BUFFER,
      ...(options.sendBufferSize ? { sendBufferSize: options.sendBufferSize } : {}),
    });
    const transport = new UdpTransport(socket, options.logger, ipv6);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => {
        socket.close();
        reject(err);
      };
      socket.once('error', onError);
      socket.bind(options.port ?? 0, address, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    const a = socket.address();
    transport.#bound = { address: a.address, port: a.port };
    return transport;
  }

  /** A peer to send to, for requests that we start. */
  peer(address: string, port: number): DatagramPeer {
    return udpPeer(address, port);
  }

  send(peer: DatagramPeer, data: Uint8Array): void {
    if (this.#closed) return;
    // A dual-stack IPv6 socket reaches an IPv4 peer only through its IPv4-mapped address.
    const address = this.#ipv6 && isIPv4(peer.address) ? `::ffff:${peer.address}` : peer.address;
    // No callback: without one, Node tries a synchronous uv_udp_try_send first instead of
    // queuing a send request per datagram (a third of the CPU of a request/response on
    // loopback). A failed send is reported as the socket's 'error' event, logged below.
    this.#socket.send(data, peer.port, address);
  }

  onReceive(receiver: DatagramReceiver): void {
    this.#receiver = receiver;
  }

  address(): { address: string; port: number } | undefined {
    return this.#bound;
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }
}
