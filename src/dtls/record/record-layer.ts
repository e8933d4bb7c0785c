import { ContentType, DTLS_1_2 } from '../constants.js';
import type { RecordCipher } from '../crypto/record-cipher.js';
import { additionalData, type DtlsRecord, epochSeq, serializeRecord } from './record.js';
import { ReplayWindow } from './replay-window.js';

/** A record after protection was removed: the real content type and the plaintext. */
export interface OpenedRecord {
  type: number;
  epoch: number;
  seq: number;
  data: Buffer;
  /** True when the record came with a CID (RFC 9146). */
  cid: boolean;
}

interface ReadState {
  cipher?: RecordCipher;
  window: ReplayWindow;
}

interface WriteState {
  cipher?: RecordCipher;
  seq: number;
}

/** RFC 6347 §4.1: 2^48 - 1 is the last sequence number of an epoch. */
const MAX_SEQ = 2 ** 48 - 1;

/**
 * The record layer of one association: read and write state per epoch, sequence numbers,
 * anti-replay windows (RFC 6347 §4.1.2.6) and connection IDs (RFC 9146).
 */
export class RecordLayer {
  readonly #read = new Map<number, ReadState>([[0, { window: new ReplayWindow() }]]);
  readonly #write = new Map<number, WriteState>([[0, { seq: 0 }]]);
  /** Epoch of the application's records (the newest read epoch with keys). */
  readEpoch = 0;
  writeEpoch = 0;
  /** CID the peer asked us to put in records we send (RFC 9146 §3), from epoch 1. */
  writeCid: Buffer | undefined;
  /** CID we gave the peer; records carrying it are expected from epoch 1. */
  readCid: Buffer | undefined;
  /** Version put on records; RFC 6347 §4.1: DTLS 1.0 is fine on the first ClientHello. */
  version = DTLS_1_2;

  /** Installs the keys of the next epoch for reading (before the peer's ChangeCipherSpec). */
  setReadCipher(epoch: number, cipher: RecordCipher): void {
    this.#read.set(epoch, { cipher, window: new ReplayWindow() });
  }

  setWriteCipher(epoch: number, cipher: RecordCipher): void {
    this.#write.set(epoch, { cipher, seq: 0 });
  }

  /** RFC 6347 §4.2.1: a stateless server continues from the ClientHello's record number. */
  setWriteSeq(epoch: number, seq: number): void {
    const state = this.#write.get(epoch);
    if (state) state.seq = seq;
  }

  hasReadEpoch(epoch: number): boolean {
    return this.#read.has(epoch);
  }

  /** Forgets an old epoch once the handshake that replaced it is over. */
  dropReadEpoch(epoch: number): void {
    this.#read.delete(epoch);
  }

  /** Highest authenticated sequence number in an epoch, -1 if none. */
  highestSeq(epoch: number): number {
    return this.#read.get(epoch)?.window.highest ?? -1;
  }

  /** Protects one record in `epoch` (default: the current write epoch). */
  protect(type: number, data: Buffer, epoch = this.writeEpoch, recordSeq?: number): Buffer {
    const state = this.#write.get(epoch);
    if (!state) throw new Error(`no write state for epoch ${epoch}`);
    const seq = recordSeq ?? state.seq++;
    if (seq > MAX_SEQ) throw new Error('sequence number exhausted'); // RFC 6347 §4.1
    if (!state.cipher) {
      return serializeRecord({ type, version: this.version, epoch, seq, fragment: data });
    }
    const cid = epoch > 0 && this.writeCid && this.writeCid.length > 0 ? this.writeCid : undefined;
    let recordType = type;
    let plaintext = data;
    if (cid) {
      // RFC 9146 §4: DTLSInnerPlaintext = content + real_type + zeros (no padding here).
      recordType = ContentType.tls12_cid;
      plaintext = Buffer.concat([data, Buffer.from([type])]);
    }
    const version = this.version;
    const fragment = state.cipher.encrypt(
      epochSeq(epoch, seq),
      (n) => additionalData(recordType, version, epoch, seq, cid, n),
      plaintext,
    );
    return serializeRecord({ type: recordType, version, epoch, seq, cid, fragment });
  }

  /** Bytes a record adds to `n` bytes of data in the current write epoch. */
  overhead(n: number, epoch = this.writeEpoch): number {
    const state = this.#write.get(epoch);
    const cidLength = epoch > 0 && this.writeCid ? this.writeCid.length + 1 : 0;
    return 13 + cidLength + (state?.cipher ? state.cipher.overhead(n + cidLength) : 0);
  }

  /**
   * Removes protection; undefined when the record must be dropped silently: unknown epoch,
   * replayed (RFC 6347 §4.1.2.6) or not authentic (RFC 6347 §4.1.2.7). `failed` is set when
   * the record was dropped because it did not authenticate.
   */
  unprotect(rec: DtlsRecord, failed?: { mac: boolean }): OpenedRecord | undefined {
    const state = this.#read.get(rec.epoch);
    if (!state) return undefined;
    if (!state.window.check(rec.seq)) return undefined; // RFC 6347 §4.1.2.6: duplicate
    const isCid = rec.type === ContentType.tls12_cid;
    if (!state.cipher) {
      if (isCid) return undefined;
      state.window.accept(rec.seq);
      return { type: rec.type, epoch: rec.epoch, seq: rec.seq, data: rec.fragment, cid: false };
    }
    // RFC 9146 §6: a CID record must carry the CID we issued; plain records are refused once
    // we issued a non-empty one.
    const expectCid = this.readCid && this.readCid.length > 0;
    if (isCid !== Boolean(expectCid)) return undefined;
    if (isCid && !rec.cid?.equals(this.readCid!)) return undefined;
    const opened = state.cipher.decrypt(
      epochSeq(rec.epoch, rec.seq),
      (n) => additionalData(rec.type, rec.version, rec.epoch, rec.seq, rec.cid, n),
      rec.fragment,
    );
    if (!opened) {
      if (failed) failed.mac = true;
      return undefined;
    }
    let type = rec.type;
    let data = opened;
    if (isCid) {
      // RFC 9146 §4: the real type is the last non-zero byte of DTLSInnerPlaintext.
      let i = opened.length - 1;
      while (i >= 0 && opened[i] === 0) i--;
      if (i < 0) return undefined;
      type = opened[i]!;
      data = opened.subarray(0, i);
    }
    state.window.accept(rec.seq);
    return { type, epoch: rec.epoch, seq: rec.seq, data, cid: isCid };
  }
}
