import { createECDH, randomBytes, type X509Certificate } from 'node:crypto';
import type { PeerIdentity } from '../transport/datagram.js';
import type { CipherSuite } from './cipher-suites.js';
import {
  CertificateType,
  CLIENT_CERT_TYPE_ECDSA_SIGN,
  DTLS_1_2,
  ExtensionType,
  HandshakeType,
  MAX_PLAINTEXT,
  NamedGroup,
  SignatureScheme,
  TLS_EMPTY_RENEGOTIATION_INFO_SCSV,
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
import { serializeCertificateRequest } from './handshake/certificate-request.js';
import { parseDigitallySigned } from './handshake/certificate-verify.js';
import { type ClientHello, parseClientHello } from './handshake/client-hello.js';
import {
  parseEcdheClientKeyExchange,
  parsePskClientKeyExchange,
} from './handshake/client-key-exchange.js';
import {
  type Extension,
  findExtension,
  parseU8List,
  parseU16List,
  u8List,
} from './handshake/extensions.js';
import type { FlightEntry } from './handshake/flight.js';
import type { HandshakeMessage } from './handshake/fragment.js';
import { type HandshakeHost, Handshaker, type SessionState } from './handshake/handshaker.js';
import { serializeServerHello } from './handshake/server-hello.js';
import {
  serializeEcdheParams,
  serializeEcdheServerKeyExchange,
  serializePskServerKeyExchange,
} from './handshake/server-key-exchange.js';
import { ByteReader } from './reader.js';
import { ByteWriter } from './writer.js';

/** The server's policy for one handshake, from the transport's options. */
export interface ServerHandshakeConfig {
  cipherSuites: CipherSuite[];
  pskStore?: (identity: string) => Buffer | undefined;
  pskIdentityHint?: string;
  credential?: LocalCredential;
  trustAnchors: X509Certificate[];
  rawPublicKeyTrust?: (spki: Buffer) => boolean;
  /** ECDHE suites: whether a client certificate is asked for and whether it is required. */
  clientAuth: 'none' | 'want' | 'require';
  /** RFC 9146: length of the CIDs this server hands out; 0 disables CID. */
  cidLength: number;
  /** RFC 7627 §5.2: refuse clients that do not offer extended master secret. */
  requireExtendedMasterSecret: boolean;
  resumeSession?: (id: Buffer) => SessionState | undefined;
  now: () => number;
}

type State = 'hello' | 'certificate' | 'key-exchange' | 'certificate-verify' | 'finished' | 'done';

/**
 * The server side of the DTLS 1.2 handshake (RFC 6347 §4.2, RFC 5246 §7.3), after the
 * stateless cookie exchange: full handshakes with PSK (RFC 4279) and ECDHE_ECDSA (RFC 8422),
 * abbreviated handshakes on session resumption (RFC 5246 §7.3).
 */
export class ServerHandshaker extends Handshaker {
  #state: State = 'hello';
  #hello: ClientHello | undefined;
  #secureRenegotiation = false;
  #ecdh: ReturnType<typeof createECDH> | undefined;
  #clientCertType: number = CertificateType.x509;
  #serverCertType: number = CertificateType.x509;
  #clientKey: ReturnType<typeof publicKeyFromSpki> | undefined;
  #identity: PeerIdentity | undefined;
  #sessionId: Buffer = Buffer.alloc(0);
  #resumed = false;
  #certRequested = false;
  #maxFragmentCode = 0;
  #recordSizeLimit = false;
  /** CID the client asked for (to put in records sent to it) and the one we issue. */
  writeCid: Buffer | undefined;
  readCid: Buffer | undefined;

  constructor(
    host: HandshakeHost,
    readonly config: ServerHandshakeConfig,
  ) {
    super(host, 'server');
  }

  get clientHelloRandom(): Buffer | undefined {
    return this.#hello?.random;
  }

  get resumed(): boolean {
    return this.#resumed;
  }

  handle(msg: HandshakeMessage): void {
    switch (this.#state) {
      case 'hello':
        this.#onClientHello(msg);
        return;
      case 'certificate':
        this.#onCertificate(msg);
        return;
      case 'key-exchange':
        this.#onClientKeyExchange(msg);
        return;
      case 'certificate-verify':
        this.#onCertificateVerify(msg);
        return;
      case 'finished':
        this.#onFinished(msg);
        return;
      default:
        throw new DtlsError('unexpected_message', `unexpected handshake message ${msg.msgType}`);
    }
  }

  #onClientHello(msg: HandshakeMessage): void {
    if (msg.msgType !== HandshakeType.client_hello) {
      throw new DtlsError('unexpected_message', 'expected ClientHello');
    }
    const hello = parseClientHello(msg.body);
    this.#hello = hello;
    // RFC 6347 §4.2.2: the server's message_seq follows the ClientHello it answers.
    this.sendSeq = msg.messageSeq;
    this.record(msg);
    // RFC 6347 §4.1: DTLS versions count down; 1.2 is {254, 253}.
    if (hello.clientVersion > DTLS_1_2 || hello.clientVersion >> 8 !== 0xfe) {
      throw new DtlsError('protocol_version', 'DTLS 1.2 required');
    }
    // RFC 5246 §7.4.1.2: the null compression method must be offered.
    if (!hello.compressionMethods.includes(0)) {
      throw new DtlsError('illegal_parameter', 'null compression not offered');
    }
    const reneg = findExtension(hello.extensions, ExtensionType.renegotiation_info);
    if (reneg) {
      // RFC 5746 §3.6: on an initial handshake renegotiated_connection must be empty.
      if (reneg.length !== 1 || reneg[0] !== 0) {
        throw new DtlsError(
          'handshake_failure',
          'non-empty renegotiation_info on initial handshake',
        );
      }
      this.#secureRenegotiation = true;
    }
    // RFC 5746 §3.6: the SCSV counts as an empty renegotiation_info.
    if (hello.cipherSuites.includes(TLS_EMPTY_RENEGOTIATION_INFO_SCSV))
      this.#secureRenegotiation = true;
    this.ems = findExtension(hello.extensions, ExtensionType.extended_master_secret) !== undefined;
    if (!this.ems && this.config.requireExtendedMasterSecret) {
      throw new DtlsError('handshake_failure', 'extended master secret required (RFC 7627 §5.2)');
    }
    this.clientRandom = Buffer.from(hello.random);
    this.serverRandom = randomBytes(32);

    const rsl = findExtension(hello.extensions, ExtensionType.record_size_limit);
    const mfl = findExtension(hello.extensions, ExtensionType.max_fragment_length);
    if (rsl) {
      // RFC 8449 §4: the largest plaintext the client takes; less than 64 is illegal_parameter.
      const r = new ByteReader(rsl);
      const limit = r.u16();
      r.end();
      if (limit < 64) throw new DtlsError('illegal_parameter', 'record_size_limit below 64');
      this.#recordSizeLimit = true;
      this.host.maxFragment = Math.min(limit, MAX_PLAINTEXT);
      // RFC 8449 §5: with record_size_limit, max_fragment_length is ignored.
    } else if (mfl) {
      // RFC 6066 §4: 2^9, 2^10, 2^11 or 2^12 bytes; any other value is illegal_parameter.
      if (mfl.length !== 1 || mfl[0]! < 1 || mfl[0]! > 4) {
        throw new DtlsError('illegal_parameter', 'bad max_fragment_length');
      }
      this.#maxFragmentCode = mfl[0]!;
      this.host.maxFragment = 1 << (8 + mfl[0]!);
    }
    const cid = findExtension(hello.extensions, ExtensionType.connection_id);
    if (cid && this.config.cidLength > 0) {
      const r = new ByteReader(cid);
      this.writeCid = Buffer.from(r.vec8());
      r.end();
      this.readCid = randomBytes(this.config.cidLength);
    }

    if (this.#tryResume(hello)) return;

    this.suite = this.#chooseSuite(hello);
    if (this.suite.keyExchange === 'ecdhe_ecdsa') this.#planClientAuth(hello.extensions);
    this.#sessionId = randomBytes(32);
    const flight: FlightEntry[] = [this.#serverHello()];
    if (this.suite.keyExchange === 'psk') {
      // RFC 4279 §2: ServerKeyExchange only when the server gives an identity hint.
      if (this.config.pskIdentityHint !== undefined) {
        flight.push(
          this.message(
            HandshakeType.server_key_exchange,
            serializePskServerKeyExchange(Buffer.from(this.config.pskIdentityHint, 'utf8')),
          ),
        );
      }
    } else {
      flight.push(...this.#ecdheServerMessages());
    }
    flight.push(this.message(HandshakeType.server_hello_done, Buffer.alloc(0)));
    this.#state = this.#certRequested ? 'certificate' : 'key-exchange';
    this.host.sendFlight(flight, false);
  }

  /** RFC 5246 §7.3: abbreviated handshake when the client offers a cached session. */
  #tryResume(hello: ClientHello): boolean {
    if (hello.sessionId.length === 0 || !this.config.resumeSession) return false;
    const session = this.config.resumeSession(hello.sessionId);
    if (!session) return false;
    if (!hello.cipherSuites.includes(session.cipherSuite.id)) return false;
    if (!this.config.cipherSuites.some((s) => s.id === session.cipherSuite.id)) return false;
    // RFC 7627 §5.3: resume only with the same master secret kind; otherwise a full handshake.
    if (session.extendedMasterSecret !== this.ems) return false;
    this.suite = session.cipherSuite;
    this.master = session.masterSecret;
    this.#sessionId = Buffer.from(session.id);
    this.#identity = session.identity;
    this.#resumed = true;
    const hello2 = this.#serverHello();
    this.installKeys();
    this.host.records.readCid = this.readCid;
    this.host.records.writeCid = this.writeCid;
    const flight: FlightEntry[] = [hello2, { kind: 'ccs', epoch: 0 }, this.finished()];
    this.#state = 'finished';
    this.awaitingFinished = true;
    this.host.sendFlight(flight, false);
    return true;
  }

  #chooseSuite(hello: ClientHello): CipherSuite {
    const groups = findExtension(hello.extensions, ExtensionType.supported_groups);
    const sigAlgs = findExtension(hello.extensions, ExtensionType.signature_algorithms);
    let noCertificateType = false;
    for (const suite of this.config.cipherSuites) {
      if (!hello.cipherSuites.includes(suite.id)) continue;
      if (suite.keyExchange === 'psk') {
        if (this.config.pskStore) return suite;
        continue;
      }
      if (!this.config.credential) continue;
      // RFC 8422 §5.1.1: only curves the client lists (no extension: any).
      if (groups && !parseU16List(groups).includes(NamedGroup.secp256r1)) continue;
      // RFC 5246 §7.4.1.4.1: only signatures the client can verify.
      if (sigAlgs && !parseU16List(sigAlgs).includes(SignatureScheme.ecdsa_secp256r1_sha256))
        continue;
      const serverType = this.#negotiateServerCertType(hello.extensions);
      if (serverType === undefined) {
        noCertificateType = true;
        continue;
      }
      this.#serverCertType = serverType;
      return suite;
    }
    // RFC 7250 §4.3: a client whose server_certificate_type list has no type we can present
    // gets unsupported_certificate (unless another suite, such as PSK, needs no certificate).
    if (noCertificateType && findExtension(hello.extensions, ExtensionType.server_certificate_type))
      throw new DtlsError('unsupported_certificate', 'no server certificate type in common');
    throw new DtlsError('handshake_failure', 'no cipher suite in common');
  }

  /**
   * RFC 7250 §4.3: a type of the client's server_certificate_type list that we can present, the
   * first (its preference, §4.1) unless the client authenticates with a raw public key only:
   * such a client is in LwM2M's Raw Public Key mode, where it knows the server by its raw key
   * too (Security object 0, resources 2 and 4), even if its list puts X.509 first (as libcoap's
   * GnuTLS build does). A certificate's SubjectPublicKeyInfo is also our raw public key
   * (RFC 7250 §3). Without the extension the client takes X.509 only (RFC 7250 §4.2).
   */
  #negotiateServerCertType(extensions: Extension[]): number | undefined {
    const ours: number[] = this.config.credential?.chain
      ? [CertificateType.x509, CertificateType.raw_public_key]
      : [CertificateType.raw_public_key];
    const ext = findExtension(extensions, ExtensionType.server_certificate_type);
    if (!ext) return ours.includes(CertificateType.x509) ? CertificateType.x509 : undefined;
    const common = parseU8List(ext).filter((t) => ours.includes(t));
    const clientTypes = findExtension(extensions, ExtensionType.client_certificate_type);
    const rpkClient =
      clientTypes !== undefined &&
      parseU8List(clientTypes).every((t) => t === CertificateType.raw_public_key);
    if (rpkClient && common.includes(CertificateType.raw_public_key)) {
      return CertificateType.raw_public_key;
    }
    return common[0];
  }

  /** RFC 7250 §4.1: the client certificate type we accept, of those the client can send. */
  #negotiateClientCertType(extensions: Extension[]): number | undefined {
    const accepted: number[] = [];
    if (this.config.rawPublicKeyTrust) accepted.push(CertificateType.raw_public_key);
    if (this.config.trustAnchors.length > 0) accepted.push(CertificateType.x509);
    const ext = findExtension(extensions, ExtensionType.client_certificate_type);
    if (!ext) return accepted.includes(CertificateType.x509) ? CertificateType.x509 : undefined;
    return parseU8List(ext).find((t) => accepted.includes(t));
  }

  /** RFC 5246 §7.4.4: whether to send a CertificateRequest, and for which certificate type. */
  #planClientAuth(extensions: Extension[]): void {
    if (this.config.clientAuth === 'none') return;
    const type = this.#negotiateClientCertType(extensions);
    if (type !== undefined) {
      this.#clientCertType = type;
      this.#certRequested = true;
    } else if (this.config.clientAuth === 'require') {
      throw new DtlsError('unsupported_certificate', 'no client certificate type in common');
    }
  }

  #serverHello(): FlightEntry {
    const hello = this.#hello!;
    const extensions: Extension[] = [];
    // RFC 5746 §3.6: echo an empty renegotiation_info.
    if (this.#secureRenegotiation)
      extensions.push({ type: ExtensionType.renegotiation_info, data: Buffer.from([0]) });
    if (this.#recordSizeLimit) {
      // RFC 8449 §4: our own limit, the full 2^14 bytes of TLS 1.2.
      extensions.push({
        type: ExtensionType.record_size_limit,
        data: new ByteWriter().u16(MAX_PLAINTEXT).finish(),
      });
    }
    // RFC 6066 §4: echo an accepted max_fragment_length.
    if (this.#maxFragmentCode) {
      extensions.push({
        type: ExtensionType.max_fragment_length,
        data: Buffer.from([this.#maxFragmentCode]),
      });
    }
    // RFC 7627 §5.2: echo extended_master_secret.
    if (this.ems)
      extensions.push({ type: ExtensionType.extended_master_secret, data: Buffer.alloc(0) });
    if (this.readCid) {
      // RFC 9146 §3: the server's CID, which the client puts in the records it sends.
      extensions.push({
        type: ExtensionType.connection_id,
        data: new ByteWriter().vec8(this.readCid).finish(),
      });
    }
    if (this.suite!.keyExchange === 'ecdhe_ecdsa' && !this.#resumed) {
      // RFC 8422 §5.2: ec_point_formats when the client sent it.
      if (findExtension(hello.extensions, ExtensionType.ec_point_formats)) {
        extensions.push({ type: ExtensionType.ec_point_formats, data: u8List([0]) });
      }
      if (findExtension(hello.extensions, ExtensionType.server_certificate_type)) {
        extensions.push({
          type: ExtensionType.server_certificate_type,
          data: Buffer.from([this.#serverCertType]),
        });
      }
      // RFC 7250 §4.2: answer client_certificate_type only when a certificate is requested.
      if (
        this.#certRequested &&
        findExtension(hello.extensions, ExtensionType.client_certificate_type)
      ) {
        extensions.push({
          type: ExtensionType.client_certificate_type,
          data: Buffer.from([this.#clientCertType]),
        });
      }
    }
    const body = serializeServerHello({
      serverVersion: DTLS_1_2,
      random: this.serverRandom,
      sessionId: this.#sessionId,
      cipherSuite: this.suite!.id,
      compressionMethod: 0,
      extensions,
    });
    return this.message(HandshakeType.server_hello, body);
  }

  /** RFC 8422 §5.3-§5.4 and RFC 5246 §7.4.4: Certificate, ServerKeyExchange, CertificateRequest. */
  #ecdheServerMessages(): FlightEntry[] {
    const cred = this.config.credential!;
    const out: FlightEntry[] = [];
    const cert =
      this.#serverCertType === CertificateType.raw_public_key
        ? serializeCertificate({ type: CertificateType.raw_public_key, spki: cred.spki })
        : serializeCertificate({ type: CertificateType.x509, chain: cred.chain ?? [] });
    out.push(this.message(HandshakeType.certificate, cert));
    this.#ecdh = createECDH('prime256v1');
    const point = this.#ecdh.generateKeys();
    const params = serializeEcdheParams(NamedGroup.secp256r1, point);
    // RFC 8422 §5.4: the signature covers client_random + server_random + ServerECDHParams.
    const signature = ecdsaSign(
      cred.privateKey,
      Buffer.concat([this.clientRandom, this.serverRandom, params]),
    );
    out.push(
      this.message(
        HandshakeType.server_key_exchange,
        serializeEcdheServerKeyExchange(params, SignatureScheme.ecdsa_secp256r1_sha256, signature),
      ),
    );
    if (this.#certRequested) {
      out.push(
        this.message(
          HandshakeType.certificate_request,
          serializeCertificateRequest({
            certificateTypes: [CLIENT_CERT_TYPE_ECDSA_SIGN],
            signatureSchemes: [SignatureScheme.ecdsa_secp256r1_sha256],
            authorities: [],
          }),
        ),
      );
    }
    return out;
  }

  #onCertificate(msg: HandshakeMessage): void {
    if (msg.msgType !== HandshakeType.certificate) {
      // RFC 5246 §7.4.6: a client asked for a certificate sends one, possibly empty.
      throw new DtlsError('unexpected_message', 'expected client Certificate');
    }
    this.record(msg);
    const cert = parseCertificate(msg.body, this.#clientCertType);
    if (cert.type === CertificateType.raw_public_key) {
      const key = publicKeyFromSpki(cert.spki);
      if (!this.config.rawPublicKeyTrust?.(Buffer.from(cert.spki))) {
        throw new DtlsError('bad_certificate', 'raw public key not trusted'); // RFC 7250 §4.3
      }
      this.#clientKey = key;
      this.#identity = { kind: 'rpk', publicKey: Buffer.from(cert.spki) };
    } else if (cert.chain.length === 0) {
      // RFC 5246 §7.4.6: an empty list; fatal only when authentication is required.
      if (this.config.clientAuth === 'require') {
        throw new DtlsError('handshake_failure', 'client certificate required');
      }
    } else {
      const leaf = verifyChain(cert.chain, this.config.trustAnchors, new Date(this.config.now()));
      this.#clientKey = leaf.publicKey;
      this.#identity = { kind: 'x509', subject: leaf.subject, certificate: Buffer.from(leaf.raw) };
    }
    this.#state = 'key-exchange';
  }

  #onClientKeyExchange(msg: HandshakeMessage): void {
    if (msg.msgType !== HandshakeType.client_key_exchange) {
      throw new DtlsError('unexpected_message', 'expected ClientKeyExchange');
    }
    this.record(msg);
    let premaster: Buffer;
    if (this.suite!.keyExchange === 'psk') {
      const raw = parsePskClientKeyExchange(msg.body);
      const identity = raw.toString('utf8');
      const psk = this.config.pskStore?.(identity);
      // RFC 4279 §2: an identity the server does not know ends the handshake.
      if (!psk) throw new DtlsError('unknown_psk_identity', `unknown PSK identity ${identity}`);
      this.#identity = { kind: 'psk', identity };
      premaster = pskPremasterSecret(psk);
    } else {
      const point = parseEcdheClientKeyExchange(msg.body);
      try {
        premaster = this.#ecdh!.computeSecret(point);
      } catch {
        throw new DtlsError('illegal_parameter', 'invalid ECDH point'); // RFC 8422 §5.7
      }
    }
    // RFC 7627 §4: the session hash covers the messages up to ClientKeyExchange.
    const sessionHash = this.ems ? this.transcriptHash() : undefined;
    this.master = masterSecret(premaster, this.clientRandom, this.serverRandom, sessionHash);
    this.installKeys();
    this.host.records.readCid = this.readCid;
    this.host.records.writeCid = this.writeCid;
    if (this.#clientKey) {
      this.#state = 'certificate-verify';
    } else {
      this.#state = 'finished';
      this.awaitingFinished = true;
    }
  }

  #onCertificateVerify(msg: HandshakeMessage): void {
    if (msg.msgType !== HandshakeType.certificate_verify) {
      throw new DtlsError('unexpected_message', 'expected CertificateVerify');
    }
    const signed = parseDigitallySigned(msg.body);
    if (signed.scheme !== SignatureScheme.ecdsa_secp256r1_sha256) {
      throw new DtlsError('illegal_parameter', 'unsupported signature algorithm');
    }
    // RFC 5246 §7.4.8: the signature covers all handshake messages before CertificateVerify.
    if (!ecdsaVerify(this.#clientKey!, Buffer.concat(this.transcript), signed.signature)) {
      throw new DtlsError('decrypt_error', 'CertificateVerify signature does not verify');
    }
    this.record(msg);
    this.#state = 'finished';
    this.awaitingFinished = true;
  }

  #onFinished(msg: HandshakeMessage): void {
    this.verifyFinished(msg);
    this.awaitingFinished = false;
    this.#state = 'done';
    if (!this.#resumed) {
      // RFC 5246 §7.3: the server's ChangeCipherSpec and Finished end a full handshake.
      this.host.sendFlight([{ kind: 'ccs', epoch: 0 }, this.finished()], true);
    }
    this.done = true;
    const session: SessionState = {
      id: this.#sessionId,
      masterSecret: this.master!,
      cipherSuite: this.suite!,
      extendedMasterSecret: this.ems,
      identity: this.#identity,
    };
    this.host.complete(session);
  }
}
