import type { Logger } from 'pino';
import { CoapEndpoint } from '../coap/endpoint.js';
import { CoapRouter } from '../coap/router.js';
import { UdpTransport } from '../coap/udp-transport.js';
import type { TandemConfig } from '../config/schema.js';
import { DtlsServerTransport } from '../dtls/server-transport.js';
import type { PskCache } from '../hub/psk-cache.js';
import type { DatagramPeer, DatagramTransport } from '../transport/datagram.js';
import type { Clock } from '../util/clock.js';
import { ListenError } from './listen.js';

export type CoapListener = 'coap' | 'coaps' | 'bootstrap' | 'bootstrapDtls';

export interface CoapListenerHandle {
  endpoint: CoapEndpoint;
  router: CoapRouter;
  host: string;
  port: number;
}

/**
 * The CoAP side of the server: one CoAP endpoint per listener, over UDP (`coap`, `bootstrap`)
 * or DTLS (`coaps`, `bootstrapDtls`). The LwM2M server and the bootstrap server attach their
 * resources (`/rd`, `/dp`, `/bs`) to the routers; unknown paths answer 4.04.
 */
export class CoapService {
  readonly listeners = new Map<CoapListener, CoapListenerHandle>();
  readonly #config: TandemConfig;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #psk: PskCache;
  readonly #peerSeen: ((peer: DatagramPeer, listener: CoapListener) => void)[] = [];

  constructor(options: { config: TandemConfig; logger: Logger; clock: Clock; psk: PskCache }) {
    this.#config = options.config;
    this.#logger = options.logger;
    this.#clock = options.clock;
    this.#psk = options.psk;
  }

  async start(hostOf: (name: CoapListener) => string): Promise<void> {
    const { listeners } = this.#config;
    for (const name of ['coap', 'bootstrap'] as const) {
      const port = listeners[name].port;
      if (port === 'off') continue;
      const host = hostOf(name);
      const transport = await UdpTransport.bind({
        address: host,
        port,
        logger: this.#logger,
      }).catch((err: NodeJS.ErrnoException) => {
        throw new ListenError(name, host, port, err);
      });
      this.#attach(name, transport, host);
    }
    for (const name of ['coaps', 'bootstrapDtls'] as const) {
      const port = listeners[name].port;
      if (port === 'off') continue;
      const host = hostOf(name);
      const transport = new DtlsServerTransport({
        host,
        port,
        clock: this.#clock,
        logger: this.#logger,
        // No server certificate is configured yet: PSK suites only (RFC 7925 §4.2 mandates
        // TLS_PSK_WITH_AES_128_CCM_8 for PSK devices).
        cipherSuites: ['TLS_PSK_WITH_AES_128_CCM_8', 'TLS_PSK_WITH_AES_128_CBC_SHA256'],
        pskStore: (identity) => this.#psk.key(identity),
      });
      await transport.listen().catch((err: NodeJS.ErrnoException) => {
        throw new ListenError(name, host, port, err);
      });
      this.#attach(name, transport, host);
    }
  }

  /** Calls `fn` for every well-formed datagram a peer sends (queue mode: the device is awake). */
  onPeerSeen(fn: (peer: DatagramPeer, listener: CoapListener) => void): void {
    this.#peerSeen.push(fn);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.listeners.values()].map((l) => l.endpoint.close()));
    this.listeners.clear();
  }

  #attach(name: CoapListener, transport: DatagramTransport, host: string): void {
    const router = new CoapRouter();
    const endpoint = new CoapEndpoint(transport, {
      handler: router.handle,
      clock: this.#clock,
      logger: this.#logger.child({ listener: name }),
      onPeerSeen: (peer) => {
        for (const fn of this.#peerSeen) fn(peer, name);
      },
    });
    this.listeners.set(name, { endpoint, router, host, port: transport.address()!.port });
  }
}
