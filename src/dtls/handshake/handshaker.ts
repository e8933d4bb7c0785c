import { timingSafeEqual } from 'node:crypto';
import type { PeerIdentity } from '../../transport/datagram.js';
import type { CipherSuite } from '../cipher-suites.js';
import { HandshakeType } from '../constants.js';
import { finishedVerifyData, keyBlock, sha256 } from '../crypto/prf.js';
import { keyBlockLength, recordCiphers } from '../crypto/record-cipher.js';
import { DtlsError } from '../errors.js';
import type { RecordLayer } from '../record/record-layer.js';
import type { FlightEntry } from './flight.js';
import { type HandshakeMessage, unfragmented } from './fragment.js';

/** What a completed handshake established; kept for resumption (RFC 5246 §7.3). */
export interface SessionState {
  id: Buffer;
  masterSecret: Buffer;
  cipherSuite: CipherSuite;
  /** RFC 7627: the master secret is an extended one. */
  extendedMasterSecret: boolean;
  /** What the peer proved; absent when an ECDHE client sent no certificate. */
  identity: PeerIdentity | undefined;
}

/** The connection, as its handshaker sees it. */
export interface HandshakeHost {
  readonly records: RecordLayer;
  /** RFC 6066 §4: plaintext bytes per record once a maximum fragment length is agreed. */
  maxFragment: number;
  /** Sends a flight; `final` when no flight answers it (RFC 6347 §4.2.4). */
  sendFlight(flight: FlightEntry[], final: boolean): void;
  /** The handshake is over; application data may flow. */
  complete(session: SessionState): void;
}

/**
 * State shared by the client and server handshakers: the transcript (RFC 6347 §4.2.6), the
 * message_seq counter, the randoms and the key schedule.
 */
export abstract class Handshaker {
  protected transcript: Buffer[] = [];
  protected sendSeq = 0;
  protected clientRandom = Buffer.alloc(32);
  protected serverRandom = Buffer.alloc(32);
  protected suite: CipherSuite | undefined;
  protected master: Buffer | undefined;
  protected ems = false;
  /** The handshake keys are in place and the peer's Finished is what comes next. */
  awaitingFinished = false;
  done = false;

  constructor(
    protected readonly host: HandshakeHost,
    readonly role: 'client' | 'server',
  ) {}

  /** Handles the next handshake message, in message_seq order. Throws `DtlsError`. */
  abstract handle(msg: HandshakeMessage): void;

  /** Adds a received message to the transcript (RFC 6347 §4.2.6: as if unfragmented). */
  protected record(msg: HandshakeMessage): void {
    this.transcript.push(unfragmented(msg.msgType, msg.messageSeq, msg.body));
  }

  /** Builds the next outgoing message and adds it to the transcript. */
  protected message(msgType: number, body: Buffer, epoch = 0): FlightEntry {
    const messageSeq = this.sendSeq++;
    this.transcript.push(unfragmented(msgType, messageSeq, body));
    return { kind: 'handshake', epoch, msgType, messageSeq, body };
  }

  protected transcriptHash(): Buffer {
    return sha256(...this.transcript);
  }

  /** RFC 5246 §6.3: derives the keys of epoch 1 and installs them for both directions. */
  protected installKeys(): void {
    const suite = this.suite!;
    const block = keyBlock(
      this.master!,
      this.clientRandom,
      this.serverRandom,
      keyBlockLength(suite.cipher),
    );
    const { client, server } = recordCiphers(suite.cipher, block);
    const records = this.host.records;
    // RFC 6347 §4.1: the epoch is incremented on each ChangeCipherSpec.
    const epoch = records.writeEpoch + 1;
    records.setReadCipher(epoch, this.role === 'client' ? server : client);
    records.setWriteCipher(epoch, this.role === 'client' ? client : server);
  }

  /** RFC 5246 §7.4.9: our Finished over the transcript so far. */
  protected finished(): FlightEntry {
    const verify = finishedVerifyData(this.master!, this.role, this.transcriptHash());
    return this.message(HandshakeType.finished, verify, this.host.records.writeEpoch + 1);
  }

  /** RFC 5246 §7.4.9: checks the peer's Finished (which must come protected, RFC 6347 §4.1). */
  protected verifyFinished(msg: HandshakeMessage): void {
    if (msg.msgType !== HandshakeType.finished) {
      throw new DtlsError('unexpected_message', `expected Finished, got ${msg.msgType}`);
    }
    if (msg.epoch === 0) throw new DtlsError('unexpected_message', 'Finished sent in the clear');
    const peer = this.role === 'client' ? 'server' : 'client';
    const expected = finishedVerifyData(this.master!, peer, this.transcriptHash());
    if (msg.body.length !== 12 || !timingSafeEqual(msg.body, expected)) {
      throw new DtlsError('decrypt_error', 'Finished verify_data does not match'); // RFC 5246 §7.4.9
    }
    this.record(msg);
  }
}
