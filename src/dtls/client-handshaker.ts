import { createECDH, type KeyObject, randomBytes, type X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { PeerIdentity } from '../transport/datagram.js';
import { type CipherSuite, cipherSuiteById } from './cipher-suites.js';
import {
  CertificateType,
  DTLS_1_2,
  EC_POINT_FORMAT_UNCOMPRESSED,
  ExtensionType,
  HandshakeType,
  MAX_PLAINTEXT,
  NamedGroup,
  SignatureScheme,
} from './constants.js';
import {
  ecdsaSign,
  ecdsaVerify,
  type LocalCredential,
  publicKeyFromSpki,
  verifyChain,
} from './crypto/credentials.js';
import { masterSecret, pskPremasterSecret } from './crypto/prf.js';
import { DtlsError } from './errors.js';
import { parseCertificate, serializeCertificate } from './handshake/certificate.js';
import { parseCertificateRequest } from './handshake/certificate-request.js';
import { serializeDigitallySigned } from './handshake/certificate-verify.js';
import { serializeClientHello } from './handshake/client-hello.js';
import {
  serializeEcdheClientKeyExchange,
  serializePskClientKeyExchange,
} from './handshake/client-key-exchange.js';
import { type Extension, findExtension, u8List, u16List } from './handshake/extensions.js';
import type { FlightEntry } from './handshake/flight.js';
import type { HandshakeMessage } from './handshake/fragment.js';
import { type HandshakeHost, Handshaker, type SessionState } from './handshake/handshaker.js';
import { parseHelloVerifyRequest } from './handshake/hello-verify-request.js';
import { parseServerHello } from './handshake/server-hello.js';
import {
  parseEcdheServerKeyExchange,
  parsePskServerKeyExchange,
} from './handshake/server-key-exchange.js';
import { ByteReader } from './reader.js';
import { ByteWriter } from './writer.js';

export interface ClientHandshakeConfig {
  cipherSuites: CipherSuite[];
  psk?: { identity: string; key: Buffer };
  /** Our ECDSA identity, sent when the server asks for a certificate. */
  credential?: LocalCredential;
  trustAnchors: X509Certificate[];
  rawPublicKeyTrust?: (spki: Buffer) => boolean;
  /** RFC 9146: offer connection IDs (we ask for none in records sent to us). */
  connectionId: boolean;
  /** RFC 6066 §4: ask the server for records of at most 512, 1024, 2048 or 4096 bytes. */
  maxFragmentLength?: 512 | 1024 | 2048 | 4096;
  /** RFC 6125: check that the server's X.509 certificate names this host or IP address. */
  serverName?: string;
  /** RFC 8449: the largest record plaintext we take (64..16384). */
  recordSizeLimit?: number;
  /** RFC 7627: offer it (default), require it, or leave it out (to act as a legacy device). */
  extendedMasterSecret?: 'offer' | 'require' | 'off';
  /** A session to resume (RFC 5246 §7.3). */
  session?: SessionState;
  now: () => number;
}

type State = 'hello' | 'server-flight' | 'finished' | 'done';

/** The client side of the DTLS 1.2 handshake (RFC 6347 §4.2, RFC 5246 §7.3). */
export class ClientHandshaker extends Handshaker {
  #state: State = 'hello';
  #cookie = Buffer.alloc(0);
  #sessionId: Buffer = Buffer.alloc(0);
  #offeredSession: SessionState | undefined;
  #serverCertType: number = CertificateType.x509;
  #clientCertType: number = CertificateType.x509;
  /** RFC 7250 §4.2: the lists sent in the ClientHello, if any. */
  #offeredServerTypes: number[] | undefined;
  #offeredClientTypes: number[] | undefined;
  /** RFC 9146: the CID the server asked for, applied with the keys of epoch 1. */
  #pendingWriteCid: Buffer | undefined;
  #serverKey: KeyObject | undefined;
  #identity: PeerIdentity | undefined;
  #ecdhPoint: Buffer | undefined;
  #ecdhServer: { point: Buffer } | undefined;
  #certRequested = false;
  #resumed = false;
  /** HelloVerifyRequests answered; a server may ask again (a rotated cookie secret). */
  #helloVerifies = 0;

  constructor(
    host: HandshakeHost,
    readonly config: ClientHandshakeConfig,
  ) {
    super(host, 'client');
    this.clientRandom = randomBytes(32);
    this.#offeredSession = config.session;
  }

  /** The server accepted the offered session (RFC 5246 §7.3 abbreviated handshake). */
  get resumed(): boolean {
    return this.#resumed;
  }

  /** Sends the first ClientHello (RFC 6347 §4.2.1: flight 1). */
  start(): void {
    this.host.sendFlight([this.#clientHello()], false);
  }

  #hasEcdhe(): boolean {
    return this.config.cipherSuites.some((s) => s.keyExchange === 'ecdhe_ecdsa');
  }

  #clientHello(): FlightEntry {
    const extensions: Extension[] = [
      // RFC 5746 §3.4: an empty renegotiation_info on the initial handshake.
      { type: ExtensionType.renegotiation_info, data: Buffer.from([0]) },
    ];
    if (this.config.extendedMasterSecret !== 'off') {
      // RFC 7627 §5.1: offer extended master secret.
      extensions.push({ type: ExtensionType.extended_master_secret, data: Buffer.alloc(0) });
    }
    if (this.#hasEcdhe()) {
      extensions.push(
        { type: ExtensionType.supported_groups, data: u16List([NamedGroup.secp256r1]) }, // RFC 8422 §5.1.1
        { type: ExtensionType.ec_point_formats, data: u8List([EC_POINT_FORMAT_UNCOMPRESSED]) }, // RFC 8422 §5.1.2
        {
          type: ExtensionType.signature_algorithms,
          data: u16List([SignatureScheme.ecdsa_secp256r1_sha256]),
        },
      );
      // RFC 7250 §4.2: the certificate types we can handle, preferred first; a list that is
      // only X.509, the default, is left out.
      const serverTypes: number[] = [];
      if (this.config.rawPublicKeyTrust) serverTypes.push(CertificateType.raw_public_key);
      if (this.config.trustAnchors.length > 0) serverTypes.push(CertificateType.x509);
      if (serverTypes.some((t) => t !== CertificateType.x509)) {
        this.#offeredServerTypes = serverTypes;
        extensions.push({ type: ExtensionType.server_certificate_type, data: u8List(serverTypes) });
      }
      // RFC 7250 §3: the key of a certificate can also be sent alone, as a raw public key, to a
      // server that trusts raw keys only; first when we know the server by its raw key only
      // (LwM2M's Raw Public Key mode: Security object 0, resources 2 and 4).
      const cred = this.config.credential;
      if (cred) {
        const rpkMode = this.config.trustAnchors.length === 0 && serverTypes.length > 0;
        this.#offeredClientTypes = !cred.chain
          ? [CertificateType.raw_public_key]
          : rpkMode
            ? [CertificateType.raw_public_key, CertificateType.x509]
            : [CertificateType.x509, CertificateType.raw_public_key];
        extensions.push({
          type: ExtensionType.client_certificate_type,
          data: u8List(this.#offeredClientTypes),
        });
      }
    }
    if (this.config.recordSizeLimit !== undefined) {
      // RFC 8449 §4: the largest plaintext we accept in a record.
      extensions.push({
        type: ExtensionType.record_size_limit,
        data: new ByteWriter().u16(this.config.recordSizeLimit).finish(),
      });
    }
    const mfl = this.#maxFragmentCode();
    if (mfl) extensions.push({ type: ExtensionType.max_fragment_length, data: Buffer.from([mfl]) });
    if (this.config.connectionId) {
      // RFC 9146 §3: a zero-length CID: we send CIDs but do not need them in records to us.
      extensions.push({ type: ExtensionType.connection_id, data: Buffer.from([0]) });
    }
    if (this.#offeredSession) this.#sessionId = this.#offeredSession.id;
    const body = serializeClientHello({
      clientVersion: DTLS_1_2,
      random: this.clientRandom,
      sessionId: this.#sessionId,
      cookie: this.#cookie,
      cipherSuites: this.config.cipherSuites.map((s) => s.id),
      compressionMethods: Buffer.from([0]),
      extensions,
    });
    return this.message(HandshakeType.client_hello, body);
  }

  handle(msg: HandshakeMessage): void {
    if (this.#state === 'hello') this.#onHello(msg);
    else if (this.#state === 'server-flight') this.#onServerFlight(msg);
    else if (this.#state === 'finished') this.#onFinished(msg);
    else throw new DtlsError('unexpected_message', `unexpected handshake message ${msg.msgType}`);
  }

  #onHello(msg: HandshakeMessage): void {
    if (msg.msgType === HandshakeType.hello_verify_request && this.#helloVerifies < 3) {
      // RFC 6347 §4.2.1: send the ClientHello again with the cookie; neither the first
      // ClientHello nor the HelloVerifyRequest is part of the transcript (§4.2.6).
      const hvr = parseHelloVerifyRequest(msg.body);
      this.#helloVerifies++;
      this.#cookie = Buffer.from(hvr.cookie);
      this.transcript = [];
      this.host.sendFlight([this.#clientHello()], false);
      return;
    }
    if (msg.msgType !== HandshakeType.server_hello) {
      throw new DtlsError('unexpected_message', 'expected ServerHello');
    }
    this.record(msg);
    const hello = parseServerHello(msg.body);
    if (hello.serverVersion !== DTLS_1_2)
      throw new DtlsError('protocol_version', 'server is not DTLS 1.2');
    const suite = cipherSuiteById(hello.cipherSuite);
    // RFC 5246 §7.4.1.3: the suite must be one we offered.
    if (!suite || !this.config.cipherSuites.includes(suite)) {
      throw new DtlsError('illegal_parameter', 'server chose a cipher suite we did not offer');
    }
    if (hello.compressionMethod !== 0) throw new DtlsError('illegal_parameter', 'compression');
    const reneg = findExtension(hello.extensions, ExtensionType.renegotiation_info);
    // RFC 5746 §3.4: renegotiated_connection must be empty.
    if (reneg && (reneg.length !== 1 || reneg[0] !== 0)) {
      throw new DtlsError('handshake_failure', 'bad renegotiation_info');
    }
    this.suite = suite;
    this.serverRandom = Buffer.from(hello.random);
    this.ems = findExtension(hello.extensions, ExtensionType.extended_master_secret) !== undefined;
    if (this.ems && this.config.extendedMasterSecret === 'off') {
      throw new DtlsError('unsupported_extension', 'unsolicited extended_master_secret'); // RFC 5246 §7.4.1.4
    }
    if (!this.ems && this.config.extendedMasterSecret === 'require') {
      // RFC 7627 §5.3: a client MAY abort a handshake without extended master secret.
      throw new DtlsError('handshake_failure', 'server does not support extended master secret');
    }
    const rsl = findExtension(hello.extensions, ExtensionType.record_size_limit);
    if (rsl) {
      // RFC 8449 §4: the server's limit bounds what we send; unsolicited or < 64 is illegal.
      const r = new ByteReader(rsl);
      const limit = r.u16();
      r.end();
      if (this.config.recordSizeLimit === undefined || limit < 64) {
        throw new DtlsError('illegal_parameter', 'bad record_size_limit');
      }
      this.host.maxFragment = Math.min(limit, MAX_PLAINTEXT);
    }
    const mfl = findExtension(hello.extensions, ExtensionType.max_fragment_length);
    if (mfl) {
      // RFC 6066 §4: the server echoes the value asked for, or the handshake fails.
      const code = this.#maxFragmentCode();
      if (!code || mfl.length !== 1 || mfl[0] !== code) {
        throw new DtlsError('illegal_parameter', 'max_fragment_length differs from the request');
      }
      this.host.maxFragment = this.config.maxFragmentLength!;
    }
    const cid = findExtension(hello.extensions, ExtensionType.connection_id);
    if (cid) {
      if (!this.config.connectionId)
        throw new DtlsError('unsupported_extension', 'unsolicited connection_id');
      const r = new ByteReader(cid);
      this.#pendingWriteCid = Buffer.from(r.vec8());
      r.end();
    }
    this.#serverCertType = chosenCertType(
      hello.extensions,
      ExtensionType.server_certificate_type,
      this.#offeredServerTypes,
    );
    this.#clientCertType = chosenCertType(
      hello.extensions,
      ExtensionType.client_certificate_type,
      this.#offeredClientTypes,
    );

    const offered = this.#offeredSession;
    if (offered && hello.sessionId.length > 0 && hello.sessionId.equals(offered.id)) {
      // RFC 5246 §7.3: abbreviated handshake; RFC 7627 §5.3: same kind of master secret.
      if (offered.extendedMasterSecret !== this.ems || offered.cipherSuite !== suite) {
        throw new DtlsError('handshake_failure', 'resumed session parameters differ');
      }
      this.#resumed = true;
      this.master = offered.masterSecret;
      this.#identity = offered.identity;
      this.installKeys();
      this.#applyCid();
      this.#state = 'finished';
      this.awaitingFinished = true;
      return;
    }
    this.#sessionId = Buffer.from(hello.sessionId);
    this.#state = 'server-flight';
  }

  #applyCid(): void {
    if (this.#pendingWriteCid) {
      this.host.records.writeCid = this.#pendingWriteCid;
      this.host.records.readCid = Buffer.alloc(0);
    }
  }

  /** RFC 6066 §4: MaxFragmentLength code 1..4 for 2^9..2^12, 0 when not asked for. */
  #maxFragmentCode(): number {
    const n = this.config.maxFragmentLength;
    return n ? Math.log2(n) - 8 : 0;
  }

  #onServerFlight(msg: HandshakeMessage): void {
    this.record(msg);
    const ecdhe = this.suite!.keyExchange === 'ecdhe_ecdsa';
    switch (msg.msgType) {
      case HandshakeType.certificate: {
        if (!ecdhe || this.#serverKey)
          throw new DtlsError('unexpected_message', 'unexpected Certificate');
        this.#onServerCertificate(msg.body);
        return;
      }
      case HandshakeType.server_key_exchange: {
        if (!ecdhe) {
          parsePskServerKeyExchange(msg.body); // RFC 4279 §2: the hint is advisory
          return;
        }
        if (!this.#serverKey)
          throw new DtlsError('unexpected_message', 'ServerKeyExchange before Certificate');
        const ske = parseEcdheServerKeyExchange(msg.body);
        if (ske.namedCurve !== NamedGroup.secp256r1)
          throw new DtlsError('illegal_parameter', 'curve not offered');
        if (ske.signatureScheme !== SignatureScheme.ecdsa_secp256r1_sha256) {
          throw new DtlsError('illegal_parameter', 'signature algorithm not offered');
        }
        // RFC 8422 §5.4: verify the signature over both randoms and the params.
        const signed = Buffer.concat([this.clientRandom, this.serverRandom, ske.params]);
        if (!ecdsaVerify(this.#serverKey, signed, ske.signature)) {
          throw new DtlsError('decrypt_error', 'ServerKeyExchange signature does not verify');
        }
        this.#ecdhServer = { point: Buffer.from(ske.point) };
        return;
      }
      case HandshakeType.certificate_request: {
        if (!ecdhe) throw new DtlsError('unexpected_message', 'CertificateRequest with PSK');
        const req = parseCertificateRequest(msg.body);
        if (!req.signatureSchemes.includes(SignatureScheme.ecdsa_secp256r1_sha256)) {
          throw new DtlsError('handshake_failure', 'server does not accept ECDSA-SHA256');
        }
        this.#certRequested = true;
        return;
      }
      case HandshakeType.server_hello_done:
        if (msg.body.length !== 0)
          throw new DtlsError('decode_error', 'ServerHelloDone has a body');
        if (ecdhe && !this.#ecdhServer)
          throw new DtlsError('unexpected_message', 'no ServerKeyExchange');
        this.#sendClientFlight();
        return;
      default:
        throw new DtlsError(
          'unexpected_message',
          `unexpected message ${msg.msgType} in server flight`,
        );
    }
  }

  #onServerCertificate(body: Buffer): void {
    const cert = parseCertificate(body, this.#serverCertType);
    if (cert.type === CertificateType.raw_public_key) {
      const key = publicKeyFromSpki(cert.spki);
      if (!this.config.rawPublicKeyTrust?.(Buffer.from(cert.spki))) {
        throw new DtlsError('bad_certificate', 'server raw public key not trusted'); // RFC 7250 §4.3
      }
      this.#serverKey = key;
      this.#identity = { kind: 'rpk', publicKey: Buffer.from(cert.spki) };
      return;
    }
    const leaf = verifyChain(cert.chain, this.config.trustAnchors, new Date(this.config.now()));
    const name = this.config.serverName;
    if (name !== undefined) {
      // RFC 6125 §6: the certificate names the server we meant to reach (SAN DNS or IP).
      const matches = isIP(name) ? leaf.checkIP(name) : leaf.checkHost(name);
      if (!matches) throw new DtlsError('bad_certificate', `certificate is not for ${name}`);
    }
    this.#serverKey = leaf.publicKey;
    this.#identity = { kind: 'x509', subject: leaf.subject, certificate: Buffer.from(leaf.raw) };
  }

  /** RFC 5246 §7.3 flight 5: [Certificate] ClientKeyExchange [CertificateVerify] CCS Finished. */
  #sendClientFlight(): void {
    const flight: FlightEntry[] = [];
    const cred = this.config.credential;
    const sendCert = this.#certRequested;
    if (sendCert) {
      const body = !cred
        ? serializeCertificate({ type: CertificateType.x509, chain: [] }) // RFC 5246 §7.4.6: empty
        : this.#clientCertType === CertificateType.raw_public_key
          ? serializeCertificate({ type: CertificateType.raw_public_key, spki: cred.spki })
          : serializeCertificate({ type: CertificateType.x509, chain: cred.chain ?? [] });
      flight.push(this.message(HandshakeType.certificate, body));
    }
    let premaster: Buffer;
    if (this.suite!.keyExchange === 'psk') {
      const psk = this.config.psk;
      if (!psk) throw new DtlsError('internal_error', 'no PSK configured');
      flight.push(
        this.message(
          HandshakeType.client_key_exchange,
          serializePskClientKeyExchange(Buffer.from(psk.identity, 'utf8')),
        ),
      );
      premaster = pskPremasterSecret(psk.key);
      this.#identity = { kind: 'psk', identity: psk.identity };
    } else {
      const ecdh = createECDH('prime256v1');
      this.#ecdhPoint = ecdh.generateKeys();
      flight.push(
        this.message(
          HandshakeType.client_key_exchange,
          serializeEcdheClientKeyExchange(this.#ecdhPoint),
        ),
      );
      try {
        premaster = ecdh.computeSecret(this.#ecdhServer!.point);
      } catch {
        throw new DtlsError('illegal_parameter', 'invalid server ECDH point');
      }
    }
    // RFC 7627 §4: session hash up to and including ClientKeyExchange.
    const sessionHash = this.ems ? this.transcriptHash() : undefined;
    this.master = masterSecret(premaster, this.clientRandom, this.serverRandom, sessionHash);
    if (sendCert && cred) {
      // RFC 5246 §7.4.8: sign every handshake message so far.
      const signature = ecdsaSign(cred.privateKey, Buffer.concat(this.transcript));
      flight.push(
        this.message(
          HandshakeType.certificate_verify,
          serializeDigitallySigned({ scheme: SignatureScheme.ecdsa_secp256r1_sha256, signature }),
        ),
      );
    }
    this.installKeys();
    this.#applyCid();
    flight.push({ kind: 'ccs', epoch: 0 }, this.finished());
    this.#state = 'finished';
    this.awaitingFinished = true;
    this.host.sendFlight(flight, false);
  }

  #onFinished(msg: HandshakeMessage): void {
    this.verifyFinished(msg);
    this.awaitingFinished = false;
    this.#state = 'done';
    if (this.#resumed) {
      // RFC 5246 §7.3: in an abbreviated handshake the client's Finished comes last.
      this.host.sendFlight([{ kind: 'ccs', epoch: 0 }, this.finished()], true);
    }
    this.done = true;
    this.host.complete({
      id: this.#sessionId,
      masterSecret: this.master!,
      cipherSuite: this.suite!,
      extendedMasterSecret: this.ems,
      identity: this.#identity,
    });
  }
}

/**
 * RFC 7250 §4.3: the certificate type the server chose in its ServerHello: one byte taken from
 * the list we offered; X.509 when it is absent. An answer to a list we did not send is
 * unsupported_extension (RFC 5246 §7.4.1.4), a type we did not offer illegal_parameter.
 */
function chosenCertType(extensions: Extension[], type: number, offered: number[] | undefined) {
  const ext = findExtension(extensions, type);
  if (!ext) return CertificateType.x509;
  if (!offered) throw new DtlsError('unsupported_extension', `unsolicited extension ${type}`);
  if (ext.length !== 1 || !offered.includes(ext[0]!)) {
    throw new DtlsError('illegal_parameter', `certificate type ${ext[0]} was not offered`);
  }
  return ext[0]!;
}
