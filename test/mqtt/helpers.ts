import { once } from 'node:events';
import net from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { MqttBroker } from '../../src/mqtt/broker.js';
import type { MqttBrokerOptions } from '../../src/mqtt/options.js';

export interface TestBroker {
  broker: MqttBroker;
  port: number;
  url: string;
  /** Clients opened through `client()`, ended by `close()`. */
  clients: MqttClient[];
  raws: RawClient[];
  client(options?: IClientOptions): Promise<MqttClient>;
  raw(): Promise<RawClient>;
  /** Connects a client that starts collecting `count` messages before CONNACK arrives. */
  clientCollecting(
    options: IClientOptions,
    count: number,
  ): { client: MqttClient; messages: ReturnType<typeof collect> };
  close(): Promise<void>;
}

/** A broker behind a `net.Server` on 127.0.0.1, port 0. */
export async function startBroker(options: MqttBrokerOptions = {}): Promise<TestBroker> {
  const broker = new MqttBroker({ sysInterval: 0, ...options });
  const server = net.createServer((socket) => {
    broker.handleConnection(socket, {
      remoteAddress: socket.remoteAddress ?? '',
      remotePort: socket.remotePort ?? 0,
      transport: 'tcp',
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const url = `mqtt://127.0.0.1:${port}`;
  const tb: TestBroker = {
    broker,
    port,
    url,
    clients: [],
    raws: [],
    async client(opts: IClientOptions = {}) {
      const c = mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 0, ...opts });
      tb.clients.push(c);
      await new Promise<void>((resolve, reject) => {
        c.once('connect', () => resolve());
        c.once('error', reject);
      });
      return c;
    },
    clientCollecting(opts: IClientOptions, count: number) {
      const c = mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 0, ...opts });
      tb.clients.push(c);
      return { client: c, messages: collect(c, count) };
    },
    async raw() {
      const r = await RawClient.connect(port);
      tb.raws.push(r);
      return r;
    },
    async close() {
      await Promise.all(tb.clients.map((c) => c.endAsync(true).catch(() => undefined)));
      for (const r of tb.raws) r.socket.destroy();
      await broker.close();
      server.close();
      await once(server, 'close');
    },
  };
  return tb;
}

/** A raw TCP client that writes bytes as given and decodes what the broker answers. */
export class RawClient {
  readonly socket: net.Socket;
  readonly packets: Packet[] = [];
  /** Every byte received, for assertions on exact encodings. */
  readonly received: Buffer[] = [];
  closed = false;
  #parser!: ReturnType<typeof mqttPacket.parser>;
  #waiters: Array<() => void> = [];

  private constructor(socket: net.Socket, version: number) {
    this.socket = socket;
    this.useVersion(version);
    socket.on('data', (d) => {
      this.received.push(d);
      this.#parser.parse(d);
    });
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
    socket.on('error', () => undefined);
  }

  static async connect(port: number, version = 5): Promise<RawClient> {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    return new RawClient(socket, version);
  }

  /** Decodes what follows as protocol level `version`. */
  useVersion(version: number): void {
    this.#parser = mqttPacket.parser({ protocolVersion: version });
    this.#parser.on('packet', (p: Packet) => {
      this.packets.push(p);
      this.#wake();
    });
  }

  #wake(): void {
    const ws = this.#waiters;
    this.#waiters = [];
    for (const w of ws) w();
  }

  write(bytes: Buffer | number[]): void {
    this.socket.write(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes));
  }

  /** Encodes with mqtt-packet (protocol level `version`) and writes. */
  send(packet: Packet, version = 5): void {
    this.socket.write(mqttPacket.generate(packet, { protocolVersion: version }));
  }

  /** Waits for the next packet of `cmd` (taking it from the received list). */
  async next(cmd?: string): Promise<Packet> {
    for (;;) {
      const i = this.packets.findIndex((p) => cmd === undefined || p.cmd === cmd);
      if (i >= 0) return this.packets.splice(i, 1)[0]!;
      if (this.closed) throw new Error(`closed before ${cmd ?? 'a packet'}`);
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }

  /** Waits until the broker closes the connection. */
  async waitClosed(): Promise<void> {
    while (!this.closed) await new Promise<void>((r) => this.#waiters.push(r));
  }

  /** CONNECT with sensible defaults, returns the CONNACK. */
  async connect(fields: Partial<Packet> & Record<string, unknown> = {}, version = 5) {
    this.useVersion(version);
    this.send(
      {
        cmd: 'connect',
        protocolId: version === 3 ? 'MQIsdp' : 'MQTT',
        protocolVersion: version,
        clean: true,
        clientId: `raw-${Math.random().toString(16).slice(2)}`,
        keepalive: 0,
        ...fields,
      } as Packet,
      version,
    );
    return this.next('connack');
  }
}

/** Waits for `count` messages on `client`, returns them with their packets. */
export function collect(
  client: MqttClient,
  count: number,
): Promise<Array<{ topic: string; payload: Buffer; packet: mqtt.IPublishPacket }>> {
  return new Promise((resolve) => {
    const got: Array<{ topic: string; payload: Buffer; packet: mqtt.IPublishPacket }> = [];
    const on = (topic: string, payload: Buffer, packet: mqtt.IPublishPacket) => {
      got.push({ topic, payload, packet });
      if (got.length === count) {
        client.off('message', on);
        resolve(got);
      }
    };
    client.on('message', on);
  });
}

/** Resolves after pending I/O has had a chance to run (no timing assertion is made on it). */
export function settle(ms = 20): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Encodes a Variable Byte Integer (MQTT 5.0 §1.5.5). */
export function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

/** A length-prefixed string or binary field. */
export function str(s: string | Buffer | number[]): number[] {
  const b = Buffer.isBuffer(s) ? s : typeof s === 'string' ? Buffer.from(s) : Buffer.from(s);
  return [b.length >> 8, b.length & 0xff, ...b];
}

/** A whole packet: first byte, Remaining Length, body. */
export function frame(first: number, ...body: number[][]): Buffer {
  const flat = body.flat();
  return Buffer.from([first, ...varint(flat.length), ...flat]);
}

/** A property block: length then the properties' bytes. */
export function props(...items: number[][]): number[] {
  const flat = items.flat();
  return [...varint(flat.length), ...flat];
}

/** An MQTT 5 CONNECT with the given property bytes and client identifier bytes. */
export function connectV5(
  properties: number[] = [0],
  clientId: string | number[] = 'raw',
  flags = 0x02,
  tail: number[] = [],
): Buffer {
  return frame(0x10, str('MQTT'), [5, flags, 0, 0], properties, str(clientId), tail);
}

/** Polls `pred` until true (bounded); for state the broker reaches asynchronously. */
export async function waitFor(pred: () => boolean, what = 'condition'): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (pred()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`gave up waiting for ${what}`);
}
