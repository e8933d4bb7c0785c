import { DtlsClient, type DtlsClientOptions } from '../../src/dtls/client.js';
import { DtlsServer, type DtlsServerOptions } from '../../src/dtls/server.js';
import { ManualClock } from '../../src/util/clock.js';

export const PSK = Buffer.from('0102030405060708090a0b0c0d0e0f10', 'hex');
export const pskStore = (id: string) => (id === 'dev1' ? PSK : undefined);

export type Direction = 'to-server' | 'to-client';
/** Decides the fate of the n-th datagram in one direction: deliver, drop or hold back. */
export type Fate = 'deliver' | 'drop' | 'hold';

/**
 * An in-memory network between one DtlsClient and one DtlsServer, driven by a ManualClock.
 * Datagrams queue and are delivered by `pump()`; `fate` can drop or hold some back (released by
 * `release()`) to model loss and reordering.
 */
export class Lossy {
  readonly clock = new ManualClock(Date.now());
  readonly server: DtlsServer;
  client: DtlsClient;
  readonly queue: { dir: Direction; d: Buffer }[] = [];
  readonly held: { dir: Direction; d: Buffer }[] = [];
  readonly log: { dir: Direction; d: Buffer; fate: Fate }[] = [];
  readonly counts = { 'to-server': 0, 'to-client': 0 };
  fate: (dir: Direction, n: number, d: Buffer) => Fate = () => 'deliver';
  clientAddress = '10.0.0.1';
  clientPort = 40000;
  received: { server: string[]; client: string[] } = { server: [], client: [] };
  lastPeerKey: string | undefined;
  lastPeer: import('../../src/dtls/server.js').DtlsPeer | undefined;

  constructor(
    serverOptions: Partial<DtlsServerOptions> = {},
    clientOptions: Partial<DtlsClientOptions> = {},
  ) {
    this.server = new DtlsServer({ pskStore, clock: this.clock, ...serverOptions }, (d) =>
      this.#enqueue('to-client', d),
    );
    this.server.onData((data, peer) => {
      this.received.server.push(data.toString());
      this.lastPeerKey = peer.key;
      this.lastPeer = peer;
    });
    this.client = this.newClient(clientOptions);
  }

  newClient(clientOptions: Partial<DtlsClientOptions> = {}): DtlsClient {
    const client = new DtlsClient(
      { psk: { identity: 'dev1', key: PSK }, clock: this.clock, ...clientOptions },
      (d) => this.#enqueue('to-server', d),
    );
    client.onData((data) => this.received.client.push(data.toString()));
    this.client = client;
    return client;
  }

  #enqueue(dir: Direction, d: Buffer): void {
    const n = this.counts[dir]++;
    const fate = this.fate(dir, n, d);
    this.log.push({ dir, d, fate });
    if (fate === 'deliver') this.queue.push({ dir, d });
    else if (fate === 'hold') this.held.push({ dir, d });
  }

  /** Delivers queued datagrams until none is left (bounded). */
  pump(max = 500): void {
    for (let i = 0; i < max && this.queue.length > 0; i++) {
      const { dir, d } = this.queue.shift()!;
      if (dir === 'to-server') this.server.receive(d, this.clientAddress, this.clientPort);
      else this.client.receive(d);
    }
  }

  /** Queues the held datagrams, last first (reordered). */
  release(): void {
    while (this.held.length > 0) this.queue.push(this.held.pop()!);
  }

  /** Advances the clock by `ms` in steps, pumping after each. */
  advance(ms: number, step = 100): void {
    for (let t = 0; t < ms; t += step) {
      this.clock.advance(step);
      this.pump();
    }
  }

  /** Runs the handshake to completion or failure; resolves to the error, if any. */
  async handshake(): Promise<Error | undefined> {
    let error: Error | undefined;
    let settled = false;
    this.client.connect().then(
      () => {
        settled = true;
      },
      (e: Error) => {
        error = e;
        settled = true;
      },
    );
    this.pump();
    for (let i = 0; i < 200 && !settled; i++) {
      await Promise.resolve();
      if (!settled) this.advance(500);
    }
    await new Promise((r) => setImmediate(r));
    return settled ? error : new Error('handshake neither completed nor failed');
  }
}

/** Content type, epoch and first handshake type of each record in a datagram (for assertions). */
export function describeDatagram(d: Buffer): string[] {
  const out: string[] = [];
  let o = 0;
  while (o + 13 <= d.length) {
    const type = d[o]!;
    const epoch = d.readUInt16BE(o + 3);
    const len = d.readUInt16BE(o + 11);
    out.push(type === 22 && epoch === 0 ? `hs:${d[o + 13]}` : `${type}@${epoch}`);
    o += 13 + len;
  }
  return out;
}
