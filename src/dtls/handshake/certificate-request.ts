import { ByteReader } from '../reader.js';
import { ByteWriter } from '../writer.js';

/** RFC 5246 §7.4.4 CertificateRequest. */
export interface CertificateRequest {
  certificateTypes: number[];
  signatureSchemes: number[];
  /** DER distinguished names, kept raw. */
  authorities: Buffer[];
}

export function parseCertificateRequest(body: Buffer): CertificateRequest {
  const r = new ByteReader(body);
  const certificateTypes = [...r.vec8(1)];
  const algs = new ByteReader(r.vec16(2));
  const signatureSchemes: number[] = [];
  while (algs.remaining > 0) signatureSchemes.push(algs.u16());
  const cas = new ByteReader(r.vec16());
  const authorities: Buffer[] = [];
  while (cas.remaining > 0) authorities.push(cas.vec16(1));
  r.end();
  return { certificateTypes, signatureSchemes, authorities };
}

export function serializeCertificateRequest(m: CertificateRequest): Buffer {
  const algs = new ByteWriter();
  for (const a of m.signatureSchemes) algs.u16(a);
  const cas = new ByteWriter();
  for (const c of m.authorities) cas.vec16(c);
  return new ByteWriter()
    .vec8(Buffer.from(m.certificateTypes))
    .vec16(algs.finish())
    .vec16(cas.finish())
    .finish();
}
