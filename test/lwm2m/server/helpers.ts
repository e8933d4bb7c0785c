/**
 * Fixtures of the LwM2M server and client tests: a server and clients on UDP (127.0.0.1, port
 * 0), an in-memory datagram network for many devices, raw CoAP datagrams, and event waiting.
 */
import { createSocket, type Socket } from 'node:dgram';
import type { EventEmitter } from 'node:events';
import { CoapEndpoint } from '../../../src/coap/endpoint.js';
import { type CoapMessage, decodeMessage, encodeMessage } from '../../../src/coap/message.js';
import { type CoapOption, encodeUint } from '../../../src/coap/option.js';
import { UdpTransport, udpPeer } from '../../../src/coap/udp-transport.js';
import {
  AnalogInputObject,
  AnalogOutputObject,
  CellularConnectivityObject,
  ConnectivityMonitoringObject,
  DeviceObject,
  FirmwareUpdateObject,
  Lwm2mClient,
  type Lwm2mClientOptions,
  type ObjectEnabler,
  PressureObject,
  SecurityObject,
  ServerObject,
  SoftwareManagementObject,
  TemperatureObject,
} from '../../../src/lwm2m/client/index.js';
import {
  createUdpLwm2mServer,
  type UdpLwm2mServerOptions,
} from '../../../src/lwm2m/server/index.js';
import type {
  DatagramPeer,
  DatagramReceiver,
  DatagramTransport,
  PeerIdentity,
} from '../../../src/transport/datagram.js';
import type { Clock } from '../../../src/util/clock.js';

export async function startServer(options: UdpLwm2mServerOptions = {}) {
  return createUdpLwm2mServer({ udp: { address: '127.0.0.1', port: 0 }, ...options });
}

/** Every object the client library implements, with defaults. */
export function allObjects(
  serverPort: number,
  o: { lifetime?: number; clock?: Clock } = {},
): ObjectEnabler[] {
  return [
    new SecurityObject([{ serverUri: `coap://127.0.0.1:${serverPort}`, shortServerId: 1 }]),
    new ServerObject([{ lifetime: o.lifetime ?? 300, shortServerId: 1 }]),
    new DeviceObject({
      manufacturer: 'Tandem',
      serialNumber: 'SN-1',
      ...(o.clock ? { clock: o.clock } : {}),
    }),
    new ConnectivityMonitoringObject(),
    new FirmwareUpdateObject(),
    new SoftwareManagementObject([{ name: 'app', version: '1.0.0' }]),
    new CellularConnectivityObject(),
    new TemperatureObject(),
    new PressureObject(),
    new AnalogInputObject(),
    new AnalogOutputObject(),
  ];
}

export type ClientSetup = Omit<Lwm2mClientOptions, 'endpoint' | 'server' | 'objects'> & {
  objects?: ObjectEnabler[];
};

/** A client on its own UDP socket, talking to the server at `serverPort`. */
export async function startClient(serverPort: number, setup: ClientSetup) {
  const transport = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
  const endpoint = new CoapEndpoint(transport, setup.clock ? { clock: setup.clock } : {});
  const client = new Lwm2mClient({
    ...setup,
    endpoint,
    server: udpPeer('127.0.0.1', serverPort),
    objects: setup.objects ?? allObjects(serverPort, setup.clock ? { clock: setup.clock } : {}),
  });
  return {
    client,
    endpoint,
    transport,
    port: transport.address()!.port,
    close: async () => {
      client.close();
      await endpoint.close();
    },
  };
}

/** Resolves with the arguments of the next `event` (at most `timeoutMs`, then rejects). */
export function nextEvent<T = unknown>(
  emitter: EventEmitter,
  event: string,
  timeoutMs = 10_000,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, on);
      reject(new Error(`no '${event}' event within ${timeoutMs} ms`));
    }, timeoutMs);
    const on = (value: T) => {
      clearTimeout(timer);
      resolve(value);
    };
    emitter.once(event, on);
  });
}

/** Waits until `condition` holds, polling (a bound on the wait, not an assertion on time). */
export async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not reached in time');
    await new Promise<void>((r) => setTimeout(r, 2));
  }
}

/** Lets pending promise callbacks and I/O callbacks run. */
export async function settle(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

// ------------------------------------------------------------------ raw datagrams

export const opt = {
  uriPath: (s: string): CoapOption => ({ number: 11, value: Buffer.from(s) }),
  uriQuery: (s: string): CoapOption => ({ number: 15, value: Buffer.from(s) }),
  contentFormat: (n: number): CoapOption => ({ number: 12, value: encodeUint(n) }),
  observe: (n: number): CoapOption => ({ number: 6, value: encodeUint(n) }),
};

/** A hand-driven device on a UDP socket: sends bytes, and waits for what the server sends. */
export class RawDevice {
  readonly #socket: Socket;
  readonly #inbox: Buffer[] = [];
  readonly #waiters: ((b: Buffer) => void)[] = [];
  readonly serverPort: number;

  private constructor(socket: Socket, serverPort: number) {
    this.#socket = socket;
    this.serverPort = serverPort;
    socket.on('message', (data) => {
      const w = this.#waiters.shift();
      if (w) w(data);
      else this.#inbox.push(data);
    });
  }

  static async open(serverPort: number): Promise<RawDevice> {
    const socket = createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
    return new RawDevice(socket, serverPort);
  }

  get port(): number {
    return this.#socket.address().port;
  }

  send(data: Buffer | CoapMessage): void {
    const bytes = Buffer.isBuffer(data) ? data : encodeMessage(data);
    this.#socket.send(bytes, this.serverPort, '127.0.0.1');
  }

  /** The next datagram from the server, raw. */
  nextBytes(timeoutMs = 5000): Promise<Buffer> {
    const queued = this.#inbox.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.#waiters.indexOf(w);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(new Error('no datagram from the server in time'));
      }, timeoutMs);
      const w = (b: Buffer) => {
        clearTimeout(timer);
        resolve(b);
      };
      this.#waiters.push(w);
    });
  }

  /** The next datagram from the server, decoded. */
  async next(timeoutMs = 5000): Promise<CoapMessage> {
    const d = decodeMessage(await this.nextBytes(timeoutMs));
    if (!d.ok) throw new Error(`server sent a malformed datagram: ${d.error.message}`);
    return d.message;
  }

  close(): Promise<void> {
    return new Promise((r) => this.#socket.close(() => r()));
  }
}

// ------------------------------------------------------------------ in-memory network

/**
 * Datagram transports joined in memory (delivery on the next macrotask), for tests with
 * thousands of devices and no sockets.
 */
export class MemoryNetwork {
  readonly #nodes = new Map<string, MemoryTransport>();

  /** A transport at `address:port`; its datagrams arrive with `identity` (a secured peer). */
  transport(address: string, port: number, identity?: PeerIdentity): MemoryTransport {
    const t = new MemoryTransport(this, address, port, identity);
    this.#nodes.set(`${address}:${port}`, t);
    return t;
  }

  deliver(from: MemoryTransport, to: DatagramPeer, data: Buffer): void {
    const target = this.#nodes.get(`${to.address}:${to.port}`);
    if (!target) return;
    setImmediate(() => target.receive(data, from.self));
  }

  remove(t: MemoryTransport): void {
    this.#nodes.delete(`${t.self.address}:${t.self.port}`);
  }
}

export class MemoryTransport implements DatagramTransport {
  readonly scheme = 'coap';
  readonly self: DatagramPeer;
  readonly #network: MemoryNetwork;
  #receiver: DatagramReceiver | undefined;
  #closed = false;

  constructor(network: MemoryNetwork, address: string, port: number, identity?: PeerIdentity) {
    this.#network = network;
    this.self = { ...udpPeer(address, port), ...(identity ? { identity } : {}) };
  }

  send(peer: DatagramPeer, data: Uint8Array): void {
    if (!this.#closed) this.#network.deliver(this, peer, Buffer.from(data));
  }

  receive(data: Buffer, from: DatagramPeer): void {
    if (!this.#closed) this.#receiver?.(data, from);
  }

  onReceive(receiver: DatagramReceiver): void {
    this.#receiver = receiver;
  }

  address(): { address: string; port: number } {
    return { address: this.self.address, port: this.self.port };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#network.remove(this);
  }
}
