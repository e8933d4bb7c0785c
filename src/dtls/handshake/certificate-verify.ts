import { ByteReader } from '../reader.js';
import { ByteWriter } from '../writer.js';

/** RFC 5246 §4.7 / §7.4.8 digitally-signed: SignatureAndHashAlgorithm + opaque signature<0..2^16-1>. */
export interface DigitallySigned {
  scheme: number;
  signature: Buffer;
}

export function parseDigitallySigned(body: Buffer): DigitallySigned {
  const r = new ByteReader(body);
  const scheme = r.u16();
  const signature = r.vec16();
  r.end();
  return { scheme, signature };
}

export function serializeDigitallySigned(m: DigitallySigned): Buffer {
  return new ByteWriter().u16(m.scheme).vec16(m.signature).finish();
}
