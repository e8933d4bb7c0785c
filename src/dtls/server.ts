/**
 * DTLS 1.2 server (RFC 6347) on node:crypto, independent of sockets: datagrams in, datagrams
 * out. No npm library offers a DTLS 1.2 server with PSK and AES-128-CCM_8 (werift-dtls has no
 * PSK key exchange or CCM_8, node-dtls-client and @nodertc/dtls are clients only, node-mbed-dtls
 * has no PSK and bundles a 2018 mbedTLS), so Tandem implements the protocol here.
 * `DtlsServerTransport` binds it to a node:dgram socket.
 */
import { randomBytes } from 'node:crypto';
import type { DatagramPeer, PeerIdentity } from '../transport/datagram.js';
import { type Clock, systemClock, type TimerHandle } from '../util/clock.js';
import type { CipherSuite } from './cipher-suites.js';
import { DtlsConnection, defaultRetransmit } from './connection.js';
import { ContentType, DTLS_1_0, HandshakeType } from './constants.js';
import { CookieJar } from './cookie.js';
import { loadCredential, loadTrustAnchors } from './crypto/credentials.js';
import type { DtlsError } from './errors.js';
import { type ClientHello, parseClientHello } from './handshake/client-hello.js';
import { parseFragments, serializeFragment } from './handshake/fragment.js';
import type { SessionState } from './handshake/handshaker.js';
import { serializeHelloVerifyRequest } from './handshake/hello-verify-request.js';
import { type DtlsCommonOptions, resolveSuites } from './options.js';
import { type DtlsRecord, parseRecords, serializeRecord } from './record/record.js';
import { type ServerHandshakeConfig, ServerHandshaker } from './server-handshaker.js';

/** Resource limits of a server; every refusal is counted in `stats`. */
export interface DtlsServerLimits {
  /** Handshakes in progress at once (after the cookie exchange). Default 1000. */
  maxHandshakes: number;
  /** Handshakes in progress from one IP address. Default 10. */
  maxHandshakesPerSource: number;
  /** Established sessions. Default 10000. */
  maxSessions: number;
  /** An established session without a record for this long is evicted. Default 10 min. */
  idleTimeoutMs: number;
  /** Sessions kept for resumption (RFC 5246 §7.3). Default 10000; 0 disables resumption. */
  sessionCacheSize: number;
  /** RFC 5246 §F.1.4: a cached session resumes for at most this long. Default 24 h. */
  sessionLifetimeMs: number;
}

export interface DtlsServerOptions extends DtlsCommonOptions {
  /** PSK lookup by identity (RFC 4279); without it the PSK suites are not offered. */
  pskStore?: (identity: string) => Buffer | undefined;
  /** RFC 4279 §2: sent in a ServerKeyExchange when set. */
  pskIdentityHint?: string;
  /** ECDHE suites: ask for a client certificate ('want'), demand one ('require') or not. */
  clientAuth?: 'none' | 'want' | 'require';
  /** RFC 9146: length of the connection IDs issued to clients that offer CID; 0 disables. Default 6. */
  connectionIdLength?: number;
  /** RFC 7627 §5.2: refuse clients without extended master secret. Default false. */
  requireExtendedMasterSecret?: boolean;
  limits?: Partial<DtlsServerLimits>;
  /** A session was established (full or resumed handshake); `peer.identity` is set. */
  onSessionEstablished?: (peer: DtlsPeer) => void;
  /** An established session ended: close_notify, fatal alert, idle eviction or shutdown. */
  onSessionClosed?: (peer: DtlsPeer, error: DtlsError | undefined) => void;
}

/** Plain counters, read by the metrics layer. */
export interface DtlsServerStats {
  datagramsReceived: number;
  helloVerifyRequestsSent: number;
  handshakesStarted: number;
  handshakesCompleted: number;
  handshakesFailed: number;
  /** Handshakes refused by `maxHandshakes` / `maxHandshakesPerSource` / `maxSessions`. */
  handshakesRejected: number;
  sessionsResumed: number;
  sessionsEvicted: number;
  sessionsClosed: number;
  /** RFC 9146 §6: a peer's address changed under its connection ID. */
  addressChanges: number;
  /** Datagrams that matched no association and were no ClientHello (dropped). */
  datagramsDropped: number;
  /** Records of an association dropped silently (RFC 6347 §4.1.2.7). */
  recordsDropped: number;
  alertsSent: number;
  alertsReceived: number;
}

/** A peer of the server: `key` names the session and survives an address change (CID). */
export class DtlsPeer implements DatagramPeer {
  identity?: PeerIdentity;
  constructor(
    readonly key: string,
    public address: string,
    public port: number,
  ) {}
}

interface Entry {
  conn: DtlsConnection;
  handshaker: ServerHandshaker;
  peer: DtlsPeer;
  addressKey: string;
  cid?: string;
}

const addressKey = (address: string, port: number) => `${address}|${port}`;

export class DtlsServer {
  readonly stats: DtlsServerStats = {
    datagramsReceived: 0,
    helloVerifyRequestsSent: 0,
    handshakesStarted: 0,
    handshakesCompleted: 0,
    handshakesFailed: 0,
    handshakesRejected: 0,
    sessionsResumed: 0,
    sessionsEvicted: 0,
    sessionsClosed: 0,
    addressChanges: 0,
    datagramsDropped: 0,
    recordsDropped: 0,
    alertsSent: 0,
    alertsReceived: 0,
  };
  readonly #o: DtlsServerOptions;
  readonly #clock: Clock;
  readonly #limits: DtlsServerLimits;
  readonly #config: Omit<ServerHandshakeConfig, 'resumeSession'>;
  readonly #cookies: CookieJar;
  readonly #byAddress = new Map<string, Entry>();
  readonly #byCid = new Map<string, Entry>();
  readonly #byKey = new Map<string, Entry>();
  readonly #handshakesBySource = new Map<string, number>();
  readonly #sessionCache = new Map<string, { session: SessionState; createdAt: number }>();
  #handshakes = 0;
  #sweep: TimerHandle | undefined;
  #closed = false;
  #receiver: (data: Buffer, peer: DtlsPeer) => void = () => {};

  constructor(
    options: DtlsServerOptions,
    private readonly sendTo: (datagram: Buffer, address: string, port: number) => void,
  ) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#limits = {
      maxHandshakes: 1000,
      maxHandshakesPerSource: 10,
      maxSessions: 10_000,
      idleTimeoutMs: 600_000,
      sessionCacheSize: 10_000,
      sessionLifetimeMs: 24 * 3600_000,
      ...options.limits,
    };
    const suites: CipherSuite[] = resolveSuites(options.cipherSuites);
    const trustAnchors = options.trust ? loadTrustAnchors(options.trust) : [];
    const credential = options.certificate ? loadCredential(options.certificate) : undefined;
    this.#config = {
      cipherSuites: suites,
      pskStore: options.pskStore,
      pskIdentityHint: options.pskIdentityHint,
      credential,
      trustAnchors,
      rawPublicKeyTrust: options.trust?.rawPublicKeyTrust,
      clientAuth: options.clientAuth ?? (options.trust ? 'want' : 'none'),
      cidLength: options.connectionIdLength ?? 6,
      requireExtendedMasterSecret: options.requireExtendedMasterSecret ?? false,
      now: () => this.#clock.now(),
    };
    this.#cookies = new CookieJar(this.#clock);
    this.#armSweep();
  }

  /** Handshakes in progress and established sessions, for gauges. */
  get handshakesInProgress(): number {
    return this.#handshakes;
  }

  get sessions(): number {
    return this.#byKey.size - this.#handshakes;
  }

  onData(receiver: (data: Buffer, peer: DtlsPeer) => void): void {
    this.#receiver = receiver;
  }

  /** The established peer with this key, if any. */
  peer(key: string): DtlsPeer | undefined {
    const e = this.#byKey.get(key);
    return e && e.conn.state === 'established' ? e.peer : undefined;
  }

  /** Sends application data to a peer; false when no established session has that key. */
  send(peerKey: string, data: Uint8Array): boolean {
    const e = this.#byKey.get(peerKey);
    if (e?.conn.state !== 'established') return false;
    try {
      e.conn.sendApplicationData(data);
    } catch (err) {
      this.#o.logger?.warn({ err, peer: peerKey }, 'dtls: datagram not sent');
      return false;
    }
    return true;
  }

  /**
   * Ends every session, and forgets every cached session (RFC 5246 §7.3), whose identity
   * matches: for credentials that were changed or revoked. Returns the sessions closed.
   */
  revoke(match: (identity: PeerIdentity | undefined) => boolean): number {
    for (const [id, cached] of this.#sessionCache) {
      if (match(cached.session.identity)) this.#sessionCache.delete(id);
    }
    let closed = 0;
    for (const e of [...this.#byKey.values()]) {
      if (e.conn.state === 'established' && match(e.peer.identity)) {
        e.conn.close();
        closed++;
      }
    }
    return closed;
  }

  /** Ends a session with close_notify (RFC 5246 §7.2.1). */
  closeSession(peerKey: string): void {
    this.#byKey.get(peerKey)?.conn.close();
  }

  /** Handles one datagram from the network; never throws. */
  receive(datagram: Buffer, address: string, port: number): void {
    if (this.#closed) return;
    this.stats.datagramsReceived++;
    try {
      this.#receive(datagram, address, port);
    } catch (err) {
      this.#o.logger?.warn({ err, address, port }, 'dtls: datagram dropped on internal error');
    }
  }

  /** Sends close_notify to every session and stops. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#sweep) this.#clock.clearTimeout(this.#sweep);
    for (const e of [...this.#byKey.values()]) {
      if (e.conn.state === 'established') e.conn.close();
      else e.conn.destroy();
    }
  }

  #receive(datagram: Buffer, address: string, port: number): void {
    const cidLength = this.#config.cidLength;
    if (
      datagram[0] === ContentType.tls12_cid &&
      cidLength > 0 &&
      datagram.length >= 13 + cidLength
    ) {
      // RFC 9146 §6: the CID, not the address, finds the association.
      const entry = this.#byCid.get(datagram.subarray(11, 11 + cidLength).toString('hex'));
      if (!entry) {
        this.stats.datagramsDropped++;
        return;
      }
      const advanced = entry.conn.receive(datagram);
      // RFC 9146 §6: move to the new address only for an authentic record newer than any before.
      if (advanced && (entry.peer.address !== address || entry.peer.port !== port)) {
        this.#moveAddress(entry, address, port);
      }
      return;
    }
    const existing = this.#byAddress.get(addressKey(address, port));
    if (existing && !isClientHello(datagram)) {
      existing.conn.receive(datagram);
      return;
    }
    if (!isClientHello(datagram)) {
      this.stats.datagramsDropped++;
      return;
    }
    this.#onClientHello(datagram, address, port, existing);
  }

  #moveAddress(entry: Entry, address: string, port: number): void {
    const old = this.#byAddress.get(entry.addressKey);
    if (old === entry) this.#byAddress.delete(entry.addressKey);
    entry.peer.address = address;
    entry.peer.port = port;
    entry.addressKey = addressKey(address, port);
    // A session that had this address keeps its key and CID; it is idle-evicted if it is gone.
    this.#byAddress.set(entry.addressKey, entry);
    this.stats.addressChanges++;
  }

  /** RFC 6347 §4.2.1: the stateless part; state is created only for a verified cookie. */
  #onClientHello(
    datagram: Buffer,
    address: string,
    port: number,
    existing: Entry | undefined,
  ): void {
    const rec = parseRecords(datagram)[0];
    if (!rec) return;
    const f = parseFragments(rec.fragment)?.[0];
    // RFC 6347 §4.2.1: a stateless server cannot reassemble; the ClientHello must be whole.
    if (f?.fragmentOffset !== 0 || f.fragment.length !== f.length) return;
    let hello: ClientHello;
    try {
      hello = parseClientHello(f.fragment);
    } catch {
      this.stats.datagramsDropped++;
      return; // RFC 6347 §4.1.2.7
    }
    if (existing?.handshaker.clientHelloRandom?.equals(hello.random)) {
      // A retransmission of the ClientHello this association answers (RFC 6347 §4.2.4).
      existing.conn.receive(datagram);
      return;
    }
    if (!this.#cookies.verify(address, port, hello)) {
      this.#sendHelloVerifyRequest(rec, f.messageSeq, address, port, hello);
      return;
    }
    // Issue 5 limits: handshakes in progress per source address and in total, and sessions.
    const perSource = this.#handshakesBySource.get(address) ?? 0;
    if (
      this.#handshakes >= this.#limits.maxHandshakes ||
      perSource >= this.#limits.maxHandshakesPerSource ||
      this.sessions >= this.#limits.maxSessions
    ) {
      this.stats.handshakesRejected++;
      return;
    }
    // RFC 6347 §4.2.8: a new handshake from an address with an association (a rebooted client)
    // replaces it; the server MUST NOT destroy the old one before the client proved
    // reachability, which the valid cookie does.
    existing?.conn.destroy();
    this.#startHandshake(rec, f.messageSeq, address, port);
  }

  #sendHelloVerifyRequest(
    rec: DtlsRecord,
    messageSeq: number,
    address: string,
    port: number,
    hello: ClientHello,
  ): void {
    // RFC 6347 §4.2.1: server_version DTLS 1.0, the ClientHello's message_seq and record sequence.
    const body = serializeHelloVerifyRequest({
      serverVersion: DTLS_1_0,
      cookie: this.#cookies.make(address, port, hello),
    });
    const fragment = serializeFragment({
      msgType: HandshakeType.hello_verify_request,
      length: body.length,
      messageSeq,
      fragmentOffset: 0,
      fragment: body,
    });
    this.stats.helloVerifyRequestsSent++;
    this.sendTo(
      serializeRecord({
        type: ContentType.handshake,
        version: DTLS_1_0,
        epoch: 0,
        seq: rec.seq,
        fragment,
      }),
      address,
      port,
    );
  }

  #startHandshake(rec: DtlsRecord, messageSeq: number, address: string, port: number): void {
    const peer = new DtlsPeer(`dtls:${randomBytes(12).toString('base64url')}`, address, port);
    let entry: Entry | undefined;
    let handshaking = true;
    const endHandshake = () => {
      if (!handshaking) return;
      handshaking = false;
      this.#handshakes--;
      const n = (this.#handshakesBySource.get(address) ?? 1) - 1;
      if (n <= 0) this.#handshakesBySource.delete(address);
      else this.#handshakesBySource.set(address, n);
    };
    const conn = new DtlsConnection({
      clock: this.#clock,
      mtu: this.#o.mtu ?? 1200,
      retransmit: { ...defaultRetransmit, ...this.#o.retransmit },
      send: (d) => this.sendTo(d, peer.address, peer.port),
      counters: this.stats,
      onEstablished: (session) => {
        endHandshake();
        peer.identity = session.identity;
        if (handshaker.resumed) this.stats.sessionsResumed++;
        else {
          this.stats.handshakesCompleted++;
          this.#cacheSession(session);
        }
        this.#hook(() => this.#o.onSessionEstablished?.(peer));
        this.#o.logger?.debug(
          { peer: peer.key, address, port, suite: session.cipherSuite.name },
          'dtls: session established',
        );
      },
      onData: (data) => this.#receiver(data, peer),
      onClose: (error: DtlsError | undefined, byPeer) => {
        if (handshaking) this.stats.handshakesFailed++;
        else {
          this.stats.sessionsClosed++;
          this.#hook(() => this.#o.onSessionClosed?.(peer, error));
        }
        endHandshake();
        if (entry) this.#forget(entry);
        if (error)
          this.#o.logger?.debug(
            { peer: peer.key, address: peer.address, byPeer, code: error.code, msg: error.message },
            'dtls: association ended',
          );
      },
    });
    conn.cidLength = this.#config.cidLength;
    const handshaker = new ServerHandshaker(conn, {
      ...this.#config,
      resumeSession:
        this.#limits.sessionCacheSize > 0 ? (id) => this.#cachedSession(id) : undefined,
    });
    conn.handshaker = handshaker;
    // RFC 6347 §4.2.1: continue from the ClientHello's record sequence number (as OpenSSL does,
    // so the client's replay window never sees a number twice).
    conn.records.setWriteSeq(0, rec.seq);
    conn.reassembler.reset(messageSeq);
    entry = { conn, handshaker, peer, addressKey: addressKey(address, port) };
    this.#byAddress.set(entry.addressKey, entry);
    this.#byKey.set(peer.key, entry);
    this.#handshakes++;
    this.#handshakesBySource.set(address, (this.#handshakesBySource.get(address) ?? 0) + 1);
    this.stats.handshakesStarted++;
    conn.receiveRecord(rec);
    // RFC 9146 §6: from the client's Finished on, its records are found by the CID we issued.
    if (handshaker.readCid && handshaker.readCid.length > 0 && conn.state !== 'closed') {
      entry.cid = handshaker.readCid.toString('hex');
      this.#byCid.set(entry.cid, entry);
    }
  }

  /** Runs a user hook; what it throws is logged, not thrown into the protocol. */
  #hook(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#o.logger?.warn({ err }, 'dtls: session hook failed');
    }
  }

  #cacheSession(session: SessionState): void {
    if (this.#limits.sessionCacheSize <= 0 || session.id.length === 0) return;
    this.#sessionCache.set(session.id.toString('hex'), { session, createdAt: this.#clock.now() });
    while (this.#sessionCache.size > this.#limits.sessionCacheSize) {
      const oldest = this.#sessionCache.keys().next().value;
      if (oldest === undefined) break;
      this.#sessionCache.delete(oldest);
    }
  }

  /** A cached session still young enough to resume (RFC 5246 §F.1.4). */
  #cachedSession(id: Buffer): SessionState | undefined {
    const key = id.toString('hex');
    const cached = this.#sessionCache.get(key);
    if (!cached) return undefined;
    if (this.#clock.now() - cached.createdAt > this.#limits.sessionLifetimeMs) {
      this.#sessionCache.delete(key);
      return undefined;
    }
    return cached.session;
  }

  #forget(entry: Entry): void {
    if (this.#byAddress.get(entry.addressKey) === entry) this.#byAddress.delete(entry.addressKey);
    if (entry.cid && this.#byCid.get(entry.cid) === entry) this.#byCid.delete(entry.cid);
    if (this.#byKey.get(entry.peer.key) === entry) this.#byKey.delete(entry.peer.key);
  }

  #armSweep(): void {
    const every = Math.max(1000, Math.min(30_000, this.#limits.idleTimeoutMs / 2));
    this.#sweep = this.#clock.setTimeout(() => {
      const now = this.#clock.now();
      for (const e of [...this.#byKey.values()]) {
        if (
          e.conn.state === 'established' &&
          now - e.conn.lastActivity > this.#limits.idleTimeoutMs
        ) {
          this.stats.sessionsEvicted++;
          e.conn.close();
        }
      }
      if (!this.#closed) this.#armSweep();
    }, every);
    this.#sweep.unref?.();
  }
}

/** An epoch-0 handshake record whose first message is a ClientHello. */
function isClientHello(d: Buffer): boolean {
  return (
    d.length > 25 &&
    d[0] === ContentType.handshake &&
    d[3] === 0 &&
    d[4] === 0 &&
    d[13] === HandshakeType.client_hello
  );
}
