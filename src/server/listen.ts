import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { isIP } from 'node:net';

/** A listener could not be bound; names the listener, the address and the reason. */
export class ListenError extends Error {
  readonly code = 'TANDEM_ERR_LISTEN';
  constructor(
    readonly listener: string,
    readonly host: string,
    readonly port: number,
    cause: NodeJS.ErrnoException,
  ) {
    super(
      `${listener} listener cannot bind ${formatAddress(host, port)}: ${describe(cause, port)}`,
      {
        cause,
      },
    );
    this.name = 'ListenError';
  }
}

function describe(err: NodeJS.ErrnoException, port: number): string {
  switch (err.code) {
    case 'EADDRINUSE':
      return `port ${port} is already in use`;
    case 'EACCES':
      return `permission denied for port ${port} (ports below 1024 need privileges)`;
    case 'EADDRNOTAVAIL':
      return 'the address is not available on this machine';
    case 'ENOTFOUND':
      return 'the host name does not resolve';
    default:
      return err.message;
  }
}

/** `host:port`, with brackets around an IPv6 host. */
export function formatAddress(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

interface Listenable {
  listen(port: number, host: string): unknown;
  once(event: 'listening' | 'error', fn: (err?: Error) => void): unknown;
  off(event: 'listening' | 'error', fn: (err?: Error) => void): unknown;
  address(): unknown;
}

/** Binds a net/tls/http server and resolves with the port it got (port 0 picks one). */
export function listenStream(server: Listenable, name: string, host: string, port: number) {
  return new Promise<number>((resolve, reject) => {
    const onError = (err?: Error) => {
      server.off('listening', onListening);
      reject(new ListenError(name, host, port, err as NodeJS.ErrnoException));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve((server.address() as { port: number }).port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/** Binds a UDP socket of the host's family (IPv6 for `::` and IPv6 literals). */
export function bindUdp(name: string, host: string, port: number): Promise<UdpSocket> {
  const socket = createSocket({ type: isIP(host) === 6 || host === '::' ? 'udp6' : 'udp4' });
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      socket.close();
      reject(new ListenError(name, host, port, err as NodeJS.ErrnoException));
    };
    socket.once('error', onError);
    socket.bind(port, host, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}
