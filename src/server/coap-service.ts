import { createPrivateKey, createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { CoapEndpoint } from '../coap/endpoint.js';
import { CoapRouter } from '../coap/router.js';
import { UdpTransport } from '../coap/udp-transport.js';
import type { TandemConfig } from '../config/schema.js';
import type { CertificateConfig, TrustConfig } from '../dtls/crypto/credentials.js';
import { DtlsServerTransport } from '../dtls/server-transport.js';
import type { PskCache } from '../hub/psk-cache.js';
import type { DatagramPeer, DatagramTransport } from '../transport/datagram.js';
import { HeldTransport } from '../transport/held.js';
import type { Clock } from '../util/clock.js';
import { pemBlocks } from '../util/pem.js';
import { ListenError } from './listen.js';
import { developmentCertificate } from './tls-cert.js';

export type CoapListener = 'coap' | 'coaps' | 'bootstrap' | 'bootstrapDtls';

/** Datagrams a listener holds, at most, between its bind and the end of the server's start. */
const HELD_DATAGRAMS = 4096;

/** The ECDSA identity a DTLS listener presents in the ECDHE_ECDSA cipher suites. */
export interface DtlsServerCredential {
  privateKey: KeyObject;
  /** X.509 chain, leaf first (DER); absent: the key is presented as a raw public key. */
  certificateChain?: Buffer[];
  /** SubjectPublicKeyInfo DER: what an RPK device stores as the server's public key. */
  publicKey: Buffer;
  /** True when this is the development pair generated into `<dataDir>/dtls/`. */
  generated: boolean;
}

export interface CoapListenerHandle {
  endpoint: CoapEndpoint;
  /** The bound UDP or DTLS transport (the endpoint's own holds datagrams until release). */
  transport: DatagramTransport;
  router: CoapRouter;
  host: string;
  port: number;
}

/**
 * The CoAP side of the server: one CoAP endpoint per listener, over UDP (`coap`, `bootstrap`)
 * or DTLS (`coaps`, `bootstrapDtls`). The LwM2M server and the bootstrap server attach their
 * resources (`/rd`, `/dp`, `/bs`) to the routers; unknown paths answer 4.04. What arrives before
 * `release()` waits, so that no device is answered before those services are ready.
 */
export class CoapService {
  readonly listeners = new Map<CoapListener, CoapListenerHandle>();
  /** The ECDSA credential of each started DTLS listener. */
  readonly dtlsCredentials = new Map<'coaps' | 'bootstrapDtls', DtlsServerCredential>();
  readonly #config: TandemConfig;
  /** The listeners' transports until `release()`. */
  readonly #held: HeldTransport[] = [];
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
    const trust = this.#trust();
    for (const name of ['coaps', 'bootstrapDtls'] as const) {
      const port = listeners[name].port;
      if (port === 'off') continue;
      const host = hostOf(name);
      const credential = await this.#credential(name);
      this.dtlsCredentials.set(name, credential);
      // What RPK devices provision as the Server Public Key (LwM2M Security object /0/x/4).
      this.#logger.info(
        {
          listener: name,
          mode: credential.certificateChain ? 'x509' : 'rpk',
          generated: credential.generated,
          publicKey: credential.publicKey.toString('base64'),
        },
        'DTLS server key for the ECDHE_ECDSA suites',
      );
      const certificate: CertificateConfig = credential.certificateChain
        ? { privateKey: credential.privateKey, certificateChain: credential.certificateChain }
        : { privateKey: credential.privateKey };
      const transport = new DtlsServerTransport({
        host,
        port,
        clock: this.#clock,
        logger: this.#logger,
        // PSK first: RFC 7925 §4.2 mandates TLS_PSK_WITH_AES_128_CCM_8 for PSK devices, §4.3
        // TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 for RPK and certificate devices.
        cipherSuites: [
          'TLS_PSK_WITH_AES_128_CCM_8',
          'TLS_PSK_WITH_AES_128_CBC_SHA256',
          'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8',
          'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
        ],
        pskStore: (identity) => this.#psk.key(identity),
        certificate,
        trust,
        // Ask for a client certificate or raw public key in the ECDHE_ECDSA suites; a device
        // that sends none is unauthenticated, and the registration policy decides (4.03).
        clientAuth: 'want',
        limits: listeners[name].limits,
      });
      await transport.listen().catch((err: NodeJS.ErrnoException) => {
        throw new ListenError(name, host, port, err);
      });
      this.#attach(name, transport, host);
    }
  }

  /**
   * How device credentials are judged in the handshake. X.509: the chain must lead to a CA of
   * `lwm2m.trustStore` (without one, no certificate is asked for). Raw public keys
   * (RFC 7250 §4.3) are all accepted here, because mapping a key to its device is a store
   * lookup and this callback is synchronous: the registration policy answers 4.03 to a key
   * that is no device's, so such a session can register (or bootstrap) no endpoint.
   */
  #trust(): TrustConfig {
    const file = this.#config.lwm2m.trustStore;
    if (!file) return { rawPublicKeyTrust: () => true };
    const trustedCertificates = pemBlocks(readFileSync(file, 'utf8'), 'CERTIFICATE');
    if (trustedCertificates.length === 0) {
      throw new Error(`lwm2m.trustStore ${file} holds no PEM certificate`);
    }
    for (const c of trustedCertificates) new X509Certificate(c); // fail at start, not per device
    return { trustedCertificates, rawPublicKeyTrust: () => true };
  }

  /**
   * The listener's ECDSA P-256 credential: its configured PEM files (bootstrapDtls falls back
   * to those of coaps), or a development key and self-signed certificate generated once into
   * `<dataDir>/dtls/` and reused, as the MQTTS listener does for TLS.
   */
  async #credential(name: 'coaps' | 'bootstrapDtls'): Promise<DtlsServerCredential> {
    const own = this.#config.listeners[name];
    const files =
      own.key || own.certificate || name === 'coaps' ? own : this.#config.listeners.coaps;
    if (files.certificate && !files.key) {
      throw new Error(`listeners.${name}.certificate needs listeners.${name}.key`);
    }
    if (files.key) {
      return credentialFrom(
        readFileSync(files.key, 'utf8'),
        files.certificate ? readFileSync(files.certificate, 'utf8') : undefined,
        false,
        `listeners.${name}.key`,
      );
    }
    const dir = join(this.#config.dataDir, 'dtls');
    const pair = await developmentCertificate(dir);
    if (pair.created)
      this.#logger.info({ dir }, 'generated a development DTLS key and certificate');
    return credentialFrom(pair.key, pair.cert, true, pair.keyPath);
  }

  /** Calls `fn` for every well-formed datagram a peer sends (queue mode: the device is awake). */
  onPeerSeen(fn: (peer: DatagramPeer, listener: CoapListener) => void): void {
    this.#peerSeen.push(fn);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.listeners.values()].map((l) => l.endpoint.close()));
    this.listeners.clear();
  }

  /** Datagrams the listeners hold until `release()`. */
  get held(): number {
    return this.#held.reduce((n, t) => n + t.held, 0);
  }

  /**
   * Lets the datagrams through that the listeners held since they were bound (see
   * HeldTransport): call it once the services behind them are ready. Returns how many were
   * held, and how many dropped past the limit.
   */
  release(): { held: number; dropped: number } {
    let held = 0;
    let dropped = 0;
    for (const transport of this.#held.splice(0)) {
      held += transport.release();
      dropped += transport.dropped;
    }
    return { held, dropped };
  }

  #attach(name: CoapListener, bound: DatagramTransport, host: string): void {
    const router = new CoapRouter();
    const transport = new HeldTransport(bound, { limit: HELD_DATAGRAMS });
    this.#held.push(transport);
    const endpoint = new CoapEndpoint(transport, {
      handler: router.handle,
      clock: this.#clock,
      logger: this.#logger.child({ listener: name }),
      onPeerSeen: (peer) => {
        for (const fn of this.#peerSeen) fn(peer, name);
      },
    });
    this.listeners.set(name, {
      endpoint,
      transport: bound,
      router,
      host,
      port: bound.address()!.port,
    });
  }
}

function credentialFrom(
  keyPem: string,
  chainPem: string | undefined,
  generated: boolean,
  what: string,
): DtlsServerCredential {
  const privateKey = createPrivateKey(keyPem);
  // RFC 7925 §4.3: ECDHE_ECDSA over secp256r1 is what constrained devices implement.
  if (
    privateKey.asymmetricKeyType !== 'ec' ||
    privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1'
  ) {
    throw new Error(`${what} must be an ECDSA P-256 private key (RFC 7925 §4.3)`);
  }
  const publicKey = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  if (chainPem === undefined) return { privateKey, publicKey, generated };
  const certificateChain = pemBlocks(chainPem, 'CERTIFICATE');
  const leaf = certificateChain[0];
  if (!leaf) throw new Error(`the certificate file of ${what} holds no PEM certificate`);
  if (
    !new X509Certificate(leaf).publicKey.export({ format: 'der', type: 'spki' }).equals(publicKey)
  ) {
    throw new Error(`the certificate of ${what} is not that key's`);
  }
  return { privateKey, certificateChain, publicKey, generated };
}
