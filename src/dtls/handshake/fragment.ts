import { ByteReader } from '../reader.js';

/** RFC 6347 §4.2.2: a handshake message header with its fragment. */
export interface HandshakeFragment {
  msgType: number;
  /** Length of the whole message body. */
  length: number;
  messageSeq: number;
  fragmentOffset: number;
  fragment: Buffer;
}

/** A reassembled handshake message. */
export interface HandshakeMessage {
  msgType: number;
  messageSeq: number;
  body: Buffer;
  /** Epoch of the record(s) that carried it. */
  epoch: number;
}

export const HANDSHAKE_HEADER_LENGTH = 12;

/** All fragments of one handshake record; undefined if malformed (RFC 6347 §4.1.2.7: dropped). */
export function parseFragments(data: Buffer): HandshakeFragment[] | undefined {
  const out: HandshakeFragment[] = [];
  const r = new ByteReader(data);
  try {
    while (r.remaining > 0) {
      const msgType = r.u8();
      const length = r.u24();
      const messageSeq = r.u16();
      const fragmentOffset = r.u24();
      const fragment = r.vec24();
      // RFC 6347 §4.2.3: a fragment lies within the message.
      if (fragmentOffset + fragment.length > length) return undefined;
      out.push({ msgType, length, messageSeq, fragmentOffset, fragment });
    }
  } catch {
    return undefined;
  }
  return out;
}

export function serializeFragment(f: HandshakeFragment): Buffer {
  const b = Buffer.allocUnsafe(HANDSHAKE_HEADER_LENGTH + f.fragment.length);
  b[0] = f.msgType;
  b.writeUIntBE(f.length, 1, 3);
  b.writeUInt16BE(f.messageSeq, 4);
  b.writeUIntBE(f.fragmentOffset, 6, 3);
  b.writeUIntBE(f.fragment.length, 9, 3);
  f.fragment.copy(b, HANDSHAKE_HEADER_LENGTH);
  return b;
}

/** RFC 6347 §4.2.6: the transcript holds each message as if sent in one fragment. */
export function unfragmented(msgType: number, messageSeq: number, body: Buffer): Buffer {
  return serializeFragment({
    msgType,
    length: body.length,
    messageSeq,
    fragmentOffset: 0,
    fragment: body,
  });
}
