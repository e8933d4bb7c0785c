import {
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  sign,
  verify,
  X509Certificate,
} from 'node:crypto';
import { DtlsError } from '../errors.js';

/** An ECDSA P-256 identity: a private key with an X.509 chain, or alone as a raw public key. */
export interface CertificateConfig {
  /** ECDSA P-256 private key: a KeyObject, or PEM / DER (PKCS#8) accepted by createPrivateKey. */
  privateKey: KeyObject | string | Buffer;
  /** X.509 chain, leaf first (PEM or DER). Absent: the key is a raw public key (RFC 7250). */
  certificateChain?: (string | Buffer)[];
}

/** How the peer's certificate or raw public key is judged. */
export interface TrustConfig {
  /** X.509 trust anchors (PEM or DER); a peer chain must lead to one of them. */
  trustedCertificates?: (string | Buffer)[];
  /** Accepts or refuses a peer's raw public key (SubjectPublicKeyInfo DER, RFC 7250). */
  rawPublicKeyTrust?: (spki: Buffer) => boolean;
}

export interface LocalCredential {
  privateKey: KeyObject;
  /** SubjectPublicKeyInfo, DER. */
  spki: Buffer;
  chain?: Buffer[];
}

function toDer(cert: string | Buffer): Buffer {
  return new X509Certificate(cert).raw;
}

export function loadCredential(config: CertificateConfig): LocalCredential {
  const privateKey =
    typeof config.privateKey === 'object' && 'asymmetricKeyType' in config.privateKey
      ? config.privateKey
      : createPrivateKey(config.privateKey as string | Buffer);
  if (
    privateKey.asymmetricKeyType !== 'ec' ||
    privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1'
  ) {
    throw new Error('the DTLS certificate key must be ECDSA P-256 (RFC 7925 §4.3)');
  }
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const chain = config.certificateChain?.map(toDer);
  return chain ? { privateKey, spki, chain } : { privateKey, spki };
}

export function loadTrustAnchors(config: TrustConfig): X509Certificate[] {
  return (config.trustedCertificates ?? []).map((c) => new X509Certificate(c));
}

/** RFC 8422 §5.4 / RFC 5246 §4.7: ECDSA-SHA256 signature, DER-encoded (RFC 3279 Ecdsa-Sig-Value). */
export function ecdsaSign(key: KeyObject, data: Buffer): Buffer {
  return sign('sha256', data, { key, dsaEncoding: 'der' });
}

export function ecdsaVerify(publicKey: KeyObject, data: Buffer, signature: Buffer): boolean {
  try {
    return verify('sha256', data, { key: publicKey, dsaEncoding: 'der' }, signature);
  } catch {
    return false;
  }
}

/** A peer's P-256 public key from SubjectPublicKeyInfo; other keys are unsupported_certificate. */
export function publicKeyFromSpki(spki: Buffer): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch {
    throw new DtlsError('bad_certificate', 'malformed SubjectPublicKeyInfo');
  }
  checkP256(key);
  return key;
}

function checkP256(key: KeyObject): void {
  // RFC 7925 §4.3: ECDSA over secp256r1 is what constrained peers implement.
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new DtlsError('unsupported_certificate', 'peer key is not ECDSA P-256');
  }
}

/**
 * RFC 5280 §6 path validation, reduced to what node's X509Certificate offers: each certificate
 * is issued and signed by the next (a CA), the last by a trust anchor, all within their
 * validity. Returns the leaf. (Name constraints, policies and revocation are not checked.)
 */
export function verifyChain(
  chain: Buffer[],
  anchors: X509Certificate[],
  now: Date,
): X509Certificate {
  if (chain.length === 0) throw new DtlsError('bad_certificate', 'empty certificate chain');
  if (anchors.length === 0) throw new DtlsError('unknown_ca', 'no trust anchors configured');
  let certs: X509Certificate[];
  try {
    certs = chain.map((c) => new X509Certificate(c));
  } catch {
    throw new DtlsError('bad_certificate', 'malformed certificate');
  }
  for (const c of certs) {
    if (now < new Date(c.validFrom) || now > new Date(c.validTo)) {
      throw new DtlsError('certificate_expired', `certificate ${c.subject} is not valid now`);
    }
  }
  const leaf = certs[0]!;
  checkP256(leaf.publicKey);
  for (let i = 0; i < certs.length && i < 8; i++) {
    const cert = certs[i]!;
    if (anchors.some((a) => a.fingerprint256 === cert.fingerprint256)) return leaf;
    const anchor = anchors.find((a) => cert.checkIssued(a) && cert.verify(a.publicKey));
    if (anchor) return leaf;
    const next = certs[i + 1];
    if (!next) break;
    if (!next.ca || !cert.checkIssued(next) || !cert.verify(next.publicKey)) {
      throw new DtlsError(
        'bad_certificate',
        `certificate ${cert.subject} is not signed by the next`,
      );
    }
  }
  throw new DtlsError('unknown_ca', 'certificate chain does not lead to a trust anchor');
}
