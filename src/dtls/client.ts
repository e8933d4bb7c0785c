import type { PeerIdentity } from '../transport/datagram.js';
import { type Clock, systemClock } from '../util/clock.js';
import { ClientHandshaker } from './client-handshaker.js';
import { DtlsConnection, defaultRetransmit } from './connection.js';
import { MAX_PLAINTEXT } from './constants.js';
import { loadCredential, loadTrustAnchors } from './crypto/credentials.js';
import { DtlsError } from './errors.js';
import type { SessionState } from './handshake/handshaker.js';
import { type DtlsCommonOptions, resolveSuites } from './options.js';

export interface DtlsClientOptions extends DtlsCommonOptions {
  /** PSK identity and key (RFC 4279); without it the PSK suites are not offered. */
  psk?: { identity: string; key: Buffer };
  /** RFC 9146: offer a connection ID so the server keeps the session across address changes. */
  connectionId?: boolean;
  /** RFC 6066 §4: ask for records of at most this many bytes (constrained devices). */
  maxFragmentLength?: 512 | 1024 | 2048 | 4096;
  /** RFC 6125: check that the server's X.509 certificate names this host or IP (off if unset). */
  serverName?: string;
  /** RFC 8449: the largest record plaintext this client takes (64..16384). */
  recordSizeLimit?: number;
  /** RFC 7627 extended master secret: 'offer' (default), 'require', or 'off' (legacy peer). */
  extendedMasterSecret?: 'offer' | 'require' | 'off';
  /** A session from an earlier connection to resume (RFC 5246 §7.3). */
  session?: SessionState;
  /** Application data queued before the handshake completes, in bytes. Default 64 KiB. */
  maxQueuedBytes?: number;
}

/**
 * DTLS 1.2 client (RFC 6347) on node:crypto, independent of sockets. The handshake starts on
 * `connect()` or on the first `send()`; data sent before it completes is queued.
 */
export class DtlsClient {
  readonly #o: DtlsClientOptions;
  readonly #clock: Clock;
  #conn: DtlsConnection | undefined;
  #queue: Buffer[] = [];
  #queued = 0;
  #session: SessionState | undefined;
  #waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  #receiver: (data: Buffer) => void = () => {};
  #closeListener: (error: DtlsError | undefined) => void = () => {};
  /** Why the last association ended, if it failed. */
  lastError: DtlsError | undefined;

  constructor(
    options: DtlsClientOptions,
    private readonly sendDatagram: (datagram: Buffer) => void,
  ) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#session = options.session;
  }

  get established(): boolean {
    return this.#conn?.state === 'established';
  }

  /** The session of the current or last association, to resume later. */
  get session(): SessionState | undefined {
    return this.#session;
  }

  /** What the server proved in the handshake. */
  get serverIdentity(): PeerIdentity | undefined {
    return this.#conn?.session?.identity;
  }

  /** The current association resumed an earlier session (RFC 5246 §7.3). */
  get resumed(): boolean {
    return this.established && (this.#conn!.handshaker as ClientHandshaker).resumed;
  }

  get cipherSuite(): string | undefined {
    return this.#conn?.session?.cipherSuite.name;
  }

  onData(receiver: (data: Buffer) => void): void {
    this.#receiver = receiver;
  }

  onClose(listener: (error: DtlsError | undefined) => void): void {
    this.#closeListener = listener;
  }

  /** Resolves once the handshake completes; rejects with the DtlsError that ended it. */
  connect(): Promise<void> {
    if (this.established) return Promise.resolve();
    const p = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    if (!this.#conn || this.#conn.state === 'closed') this.#start();
    return p;
  }

  send(data: Uint8Array): void {
    if (this.established) {
      try {
        this.#conn!.sendApplicationData(data);
      } catch (err) {
        this.#o.logger?.warn({ err }, 'dtls: datagram not sent');
      }
      return;
    }
    if (data.length > MAX_PLAINTEXT) return; // RFC 5246 §6.2.1
    const max = this.#o.maxQueuedBytes ?? 64 * 1024;
    if (this.#queued + data.length <= max) {
      this.#queue.push(Buffer.from(data));
      this.#queued += data.length;
    }
    if (!this.#conn || this.#conn.state === 'closed') this.#start();
  }

  /** Handles one datagram from the server; never throws. */
  receive(datagram: Buffer): void {
    try {
      this.#conn?.receive(datagram);
    } catch (err) {
      this.#o.logger?.warn({ err }, 'dtls: datagram dropped on internal error');
    }
  }

  /** Sends close_notify (RFC 5246 §7.2.1) and ends the association. */
  close(): void {
    this.#conn?.close();
    this.#queue = [];
    this.#queued = 0;
  }

  #start(): void {
    const o = this.#o;
    const conn = new DtlsConnection({
      clock: this.#clock,
      mtu: o.mtu ?? 1200,
      retransmit: { ...defaultRetransmit, ...o.retransmit },
      send: (d) => this.sendDatagram(d),
      onEstablished: (session) => {
        this.#session = session;
        this.lastError = undefined;
        const queue = this.#queue;
        this.#queue = [];
        this.#queued = 0;
        for (const d of queue) conn.sendApplicationData(d);
        for (const w of this.#waiters.splice(0)) w.resolve();
      },
      onData: (data) => this.#receiver(data),
      onClose: (error) => {
        if (error) this.lastError = error;
        const err = error ?? new DtlsError('close_notify', 'closed before the handshake completed');
        for (const w of this.#waiters.splice(0)) w.reject(err);
        if (conn.session === undefined) {
          this.#queue = [];
          this.#queued = 0;
        }
        this.#closeListener(error);
      },
    });
    const suites = resolveSuites(o.cipherSuites).filter((s) =>
      s.keyExchange === 'psk'
        ? o.psk !== undefined
        : o.certificate !== undefined || o.trust !== undefined,
    );
    const handshaker = new ClientHandshaker(conn, {
      cipherSuites: suites,
      psk: o.psk,
      credential: o.certificate ? loadCredential(o.certificate) : undefined,
      trustAnchors: o.trust ? loadTrustAnchors(o.trust) : [],
      rawPublicKeyTrust: o.trust?.rawPublicKeyTrust,
      connectionId: o.connectionId ?? false,
      extendedMasterSecret: o.extendedMasterSecret ?? 'offer',
      maxFragmentLength: o.maxFragmentLength,
      recordSizeLimit: o.recordSizeLimit,
      serverName: o.serverName,
      session: this.#session,
      now: () => this.#clock.now(),
    });
    conn.handshaker = handshaker;
    this.#conn = conn;
    handshaker.start();
  }
}
