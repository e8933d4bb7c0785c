import { CertificateType } from '../constants.js';
import { ByteReader } from '../reader.js';
import { ByteWriter } from '../writer.js';

/**
 * RFC 5246 §7.4.2 Certificate (certificate_list<0..2^24-1> of ASN.1Cert<1..2^24-1>) or, with
 * the RawPublicKey type, RFC 7250 §3: one ASN.1_subjectPublicKeyInfo<1..2^24-1>.
 */
export type CertificateMessage =
  | { type: typeof CertificateType.x509; chain: Buffer[] }
  | { type: typeof CertificateType.raw_public_key; spki: Buffer };

export function parseCertificate(body: Buffer, type: number): CertificateMessage {
  const r = new ByteReader(body);
  if (type === CertificateType.raw_public_key) {
    const spki = r.vec24(1);
    r.end();
    return { type: CertificateType.raw_public_key, spki };
  }
  const list = new ByteReader(r.vec24());
  r.end();
  const chain: Buffer[] = [];
  while (list.remaining > 0) chain.push(list.vec24(1));
  return { type: CertificateType.x509, chain };
}

export function serializeCertificate(m: CertificateMessage): Buffer {
  if (m.type === CertificateType.raw_public_key) return new ByteWriter().vec24(m.spki).finish();
  const list = new ByteWriter();
  for (const c of m.chain) list.vec24(c);
  return new ByteWriter().vec24(list.finish()).finish();
}
