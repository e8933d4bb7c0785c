import { ByteReader } from '../reader.js';
import { ByteWriter } from '../writer.js';

/** RFC 4279 §2: ClientKeyExchange for PSK carries psk_identity<0..2^16-1> (UTF-8, RFC 4279 §5.1). */
export function parsePskClientKeyExchange(body: Buffer): Buffer {
  const r = new ByteReader(body);
  const identity = r.vec16();
  r.end();
  return identity;
}

export function serializePskClientKeyExchange(identity: Buffer): Buffer {
  return new ByteWriter().vec16(identity).finish();
}

/** RFC 8422 §5.7: ClientECDiffieHellmanPublic, opaque point <1..2^8-1>. */
export function parseEcdheClientKeyExchange(body: Buffer): Buffer {
  const r = new ByteReader(body);
  const point = r.vec8(1);
  r.end();
  return point;
}

export function serializeEcdheClientKeyExchange(point: Buffer): Buffer {
  return new ByteWriter().vec8(point).finish();
}
