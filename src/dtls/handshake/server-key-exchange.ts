import { EC_CURVE_TYPE_NAMED } from '../constants.js';
import { DtlsError } from '../errors.js';
import { ByteReader } from '../reader.js';
import { ByteWriter } from '../writer.js';

/** RFC 4279 §2: ServerKeyExchange for PSK carries psk_identity_hint<0..2^16-1>. */
export function parsePskServerKeyExchange(body: Buffer): Buffer {
  const r = new ByteReader(body);
  const hint = r.vec16();
  r.end();
  return hint;
}

export function serializePskServerKeyExchange(hint: Buffer): Buffer {
  return new ByteWriter().vec16(hint).finish();
}

/** RFC 8422 §5.4 ServerKeyExchange for ECDHE_ECDSA: ServerECDHParams plus a signature. */
export interface EcdheServerKeyExchange {
  namedCurve: number;
  point: Buffer;
  /** The encoded ServerECDHParams, which the signature covers with both randoms. */
  params: Buffer;
  signatureScheme: number;
  signature: Buffer;
}

export function parseEcdheServerKeyExchange(body: Buffer): EcdheServerKeyExchange {
  const r = new ByteReader(body);
  const curveType = r.u8();
  if (curveType !== EC_CURVE_TYPE_NAMED) {
    throw new DtlsError('illegal_parameter', 'only named curves are supported'); // RFC 8422 §5.4
  }
  const namedCurve = r.u16();
  const point = r.vec8(1);
  const params = body.subarray(0, r.offset);
  const signatureScheme = r.u16();
  const signature = r.vec16();
  r.end();
  return { namedCurve, point, params, signatureScheme, signature };
}

export function serializeEcdheParams(namedCurve: number, point: Buffer): Buffer {
  return new ByteWriter().u8(EC_CURVE_TYPE_NAMED).u16(namedCurve).vec8(point).finish();
}

export function serializeEcdheServerKeyExchange(
  params: Buffer,
  signatureScheme: number,
  signature: Buffer,
): Buffer {
  return new ByteWriter().bytes(params).u16(signatureScheme).vec16(signature).finish();
}
