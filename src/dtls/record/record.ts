import { ContentType, MAX_CIPHERTEXT } from '../constants.js';
import { ByteReader } from '../reader.js';

/** RFC 6347 §4.1 DTLSPlaintext / DTLSCiphertext, and RFC 9146 §4 records with a connection ID. */
export interface DtlsRecord {
  type: number;
  version: number;
  epoch: number;
  /** 48-bit sequence number (RFC 6347 §4.1). */
  seq: number;
  /** Present on tls12_cid records (RFC 9146 §4). */
  cid?: Buffer;
  fragment: Buffer;
}

export const RECORD_HEADER_LENGTH = 13;

/**
 * Splits a datagram into records. RFC 6347 §4.1.2.7: an invalid record is discarded silently;
 * the parse stops at the first one that does not fit, keeping those before it.
 * `cidLength` is the length of the connection IDs this side hands out (RFC 9146 §4: the receiver
 * knows it); tls12_cid records are dropped when it is 0.
 */
export function parseRecords(datagram: Buffer, cidLength = 0): DtlsRecord[] {
  const out: DtlsRecord[] = [];
  const r = new ByteReader(datagram);
  try {
    while (r.remaining > 0) {
      const type = r.u8();
      const version = r.u16();
      const epoch = r.u16();
      const seq = r.u48();
      let cid: Buffer | undefined;
      if (type === ContentType.tls12_cid) {
        if (cidLength === 0) break;
        cid = r.bytes(cidLength);
      }
      const length = r.u16();
      if (length > MAX_CIPHERTEXT) break; // RFC 5246 §6.2.3: record_overflow, dropped here
      const fragment = r.bytes(length);
      if ((version & 0xff00) !== 0xfe00) continue; // not a DTLS record
      out.push(
        cid
          ? { type, version, epoch, seq, cid, fragment }
          : { type, version, epoch, seq, fragment },
      );
    }
  } catch {
    // RFC 6347 §4.1.2.7: a truncated record is dropped; the records before it stand.
  }
  return out;
}

/** The 8 bytes epoch + sequence number (RFC 6347 §4.1.2.1 seq_num in the MAC / AAD). */
export function epochSeq(epoch: number, seq: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeUInt16BE(epoch, 0);
  b.writeUIntBE(seq, 2, 6);
  return b;
}

export function serializeRecord(rec: DtlsRecord): Buffer {
  const cidLength = rec.cid ? rec.cid.length : 0;
  const out = Buffer.allocUnsafe(RECORD_HEADER_LENGTH + cidLength + rec.fragment.length);
  out[0] = rec.type;
  out.writeUInt16BE(rec.version, 1);
  out.writeUInt16BE(rec.epoch, 3);
  out.writeUIntBE(rec.seq, 5, 6);
  if (rec.cid) rec.cid.copy(out, 11);
  out.writeUInt16BE(rec.fragment.length, 11 + cidLength);
  rec.fragment.copy(out, RECORD_HEADER_LENGTH + cidLength);
  return out;
}

/**
 * The additional data of a protected record: RFC 5246 §6.2.3.3 (seq_num + type + version +
 * length) or, for a tls12_cid record, RFC 9146 §5 (seq_num_placeholder + tls12_cid + cid_length +
 * tls12_cid + version + epoch + sequence_number + cid + length_of_DTLSInnerPlaintext).
 */
export function additionalData(
  type: number,
  version: number,
  epoch: number,
  seq: number,
  cid: Buffer | undefined,
  length: number,
): Buffer {
  if (!cid) {
    const b = Buffer.allocUnsafe(13);
    b.writeUInt16BE(epoch, 0);
    b.writeUIntBE(seq, 2, 6);
    b[8] = type;
    b.writeUInt16BE(version, 9);
    b.writeUInt16BE(length, 11);
    return b;
  }
  const b = Buffer.allocUnsafe(8 + 3 + 2 + 2 + 6 + cid.length + 2);
  b.fill(0xff, 0, 8);
  b[8] = ContentType.tls12_cid;
  b[9] = cid.length;
  b[10] = ContentType.tls12_cid;
  b.writeUInt16BE(version, 11);
  b.writeUInt16BE(epoch, 13);
  b.writeUIntBE(seq, 15, 6);
  cid.copy(b, 21);
  b.writeUInt16BE(length, 21 + cid.length);
  return b;
}
