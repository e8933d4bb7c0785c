/**
 * DTLS identities of simulated devices beyond PSK: an ECDSA P-256 key pair per device (RFC 7925
 * §4.3: the curve constrained devices implement), presented as a raw public key (RFC 7250,
 * LwM2M-TS-Transport 1.1 §5.2.8.2) or in an X.509 certificate signed by a CA
 * (LwM2M-TS-Transport 1.1 §5.2.8.3) whose common name is the endpoint name.
 */
import {
  createECDH,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  X509Certificate,
} from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { generate } from 'selfsigned';
import type { CertificateConfig, TrustConfig } from '../dtls/crypto/credentials.js';
import { pemBlocks } from '../util/pem.js';

/** How LwM2M devices authenticate over coaps (LwM2M 1.0 Appendix E.1 resource 2). */
export type SecurityMode = 'psk' | 'rpk' | 'x509';

/** A CA as PEM text: the certificate and its private key. */
export interface CaPem {
  readonly cert: string;
  readonly key: string;
}

/** One device's key pair, and its certificate in X.509 mode. */
export interface DeviceIdentity {
  readonly privateKey: KeyObject;
  /** SubjectPublicKeyInfo, DER: what the API takes as `credentials.rpk.publicKey` (base64). */
  readonly spki: Buffer;
  /** X.509 mode: the device certificate, PEM. */
  readonly certificate?: string;
}

/** The order of the P-256 group (SEC 2 §2.4.2, "n"). */
const P256_ORDER = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');

/**
 * The P-256 private key of device `index`: derived from `seed` (the same seed gives the same
 * keys, so a fleet can run again against the devices it created), or random without one.
 */
export function deviceKey(index: number, seed: number | undefined): KeyObject {
  if (seed === undefined) {
    return generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  }
  const hash = createHash('sha256').update(`tandem-sim-key:${seed}:${index}`).digest('hex');
  // A scalar in 1..n-1 (SEC 1 §3.2.1).
  const d = (BigInt(`0x${hash}`) % (P256_ORDER - 1n)) + 1n;
  const dBytes = Buffer.from(d.toString(16).padStart(64, '0'), 'hex');
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(dBytes);
  const point = ecdh.getPublicKey(); // 0x04 || X || Y (SEC 1 §2.3.3)
  return createPrivateKey({
    format: 'jwk',
    key: {
      kty: 'EC',
      crv: 'P-256',
      d: dBytes.toString('base64url'),
      x: point.subarray(1, 33).toString('base64url'),
      y: point.subarray(33, 65).toString('base64url'),
    },
  });
}

/** The identities of a fleet's devices, made on first use and kept (a device reconnects). */
export class DeviceIdentities {
  readonly #made = new Map<number, Promise<DeviceIdentity>>();

  constructor(
    readonly mode: 'rpk' | 'x509',
    readonly seed: number | undefined,
    readonly ca: CaPem | undefined,
  ) {
    if (mode === 'x509' && !ca) throw new Error('X.509 device certificates need a CA');
  }

  of(index: number, name: string): Promise<DeviceIdentity> {
    let made = this.#made.get(index);
    if (!made) {
      made = this.#make(index, name);
      this.#made.set(index, made);
    }
    return made;
  }

  async #make(index: number, name: string): Promise<DeviceIdentity> {
    const privateKey = deviceKey(index, this.seed);
    const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
    if (this.mode === 'rpk') return { privateKey, spki };
    const pems = await generate([{ name: 'commonName', value: name }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      keyPair: {
        privateKey: privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
        publicKey: createPublicKey(privateKey).export({ format: 'pem', type: 'spki' }) as string,
      },
      ca: this.ca!,
      notAfterDate: new Date(Date.now() + 365 * 24 * 3600 * 1000),
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, critical: true },
        { name: 'extKeyUsage', clientAuth: true },
      ],
    });
    return { privateKey, spki, certificate: pems.cert };
  }

  /** The device's own credential for the DTLS client. */
  static certificateConfig(identity: DeviceIdentity): CertificateConfig {
    return identity.certificate
      ? { privateKey: identity.privateKey, certificateChain: [identity.certificate] }
      : { privateKey: identity.privateKey };
  }
}

/**
 * The CA that signs device certificates: its PEM files when both exist, else a new self-signed
 * P-256 CA written to them (the key readable by its owner only), for the server's trust store
 * (`lwm2m.trustStore`) to point at. `created` tells whether this call made it.
 */
export async function loadOrCreateCa(
  certPath: string,
  keyPath: string,
): Promise<CaPem & { created: boolean }> {
  const hasCert = existsSync(certPath);
  const hasKey = existsSync(keyPath);
  if (hasCert !== hasKey) {
    throw new Error(
      `${hasCert ? keyPath : certPath} is missing: give both CA files, or neither to create them`,
    );
  }
  if (hasCert) {
    const cert = readFileSync(certPath, 'utf8');
    const key = readFileSync(keyPath, 'utf8');
    checkCa(cert, key, certPath);
    return { cert, key, created: false };
  }
  const pems = await generate([{ name: 'commonName', value: 'Tandem simulator CA' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 5 * 365 * 24 * 3600 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  for (const path of [certPath, keyPath]) mkdirSync(dirname(path), { recursive: true });
  writeFileSync(certPath, pems.cert);
  writeFileSync(keyPath, pems.private, { mode: 0o600 });
  return { cert: pems.cert, key: pems.private, created: true };
}

function checkCa(certPem: string, keyPem: string, what: string): void {
  let cert: X509Certificate;
  let key: KeyObject;
  try {
    cert = new X509Certificate(certPem);
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new Error(`${what}: not a PEM certificate and private key (${(err as Error).message})`);
  }
  if (!cert.ca) throw new Error(`${what}: not a CA certificate (basicConstraints CA:TRUE)`);
  if (!cert.checkPrivateKey(key)) throw new Error(`${what}: the key is not the certificate's`);
}

/**
 * How a device judges the server in RPK and X.509 modes: certificates are trust anchors (the
 * server's own self-signed certificate, or its CA), public keys are pinned raw public keys
 * (RFC 7250 §4.3: a raw key is trusted because it is known in advance).
 */
export function serverTrust(pem: string): TrustConfig {
  const certificates = pemBlocks(pem, 'CERTIFICATE');
  const keys = pemBlocks(pem, 'PUBLIC KEY').map((der) =>
    createPublicKey({ key: der, format: 'der', type: 'spki' }).export({
      format: 'der',
      type: 'spki',
    }),
  );
  for (const c of certificates) new X509Certificate(c); // a bad file fails now, not per device
  if (certificates.length === 0 && keys.length === 0) {
    throw new Error('holds no PEM certificate or public key');
  }
  return {
    ...(certificates.length ? { trustedCertificates: certificates } : {}),
    ...(keys.length
      ? { rawPublicKeyTrust: (spki: Buffer) => keys.some((k) => k.equals(spki)) }
      : {}),
  };
}
