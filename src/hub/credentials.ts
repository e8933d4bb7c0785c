import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import type { DeviceCredentials } from '../store/ports.js';
import type { PeerIdentity } from '../transport/datagram.js';
import { invalid } from './errors.js';
import { APP_USERNAME } from './mqtt-auth.js';
import { hashPassword } from './password.js';

/** Credentials as a client gives them: secrets in clear, keys as text. */
export interface CredentialsInput {
  psk?: { identity: string; key: string } | null;
  rpk?: { publicKey: string } | null;
  x509?: { certificate: string } | null;
  mqtt?: { username: string; password: string } | null;
}

export type CredentialKind = keyof DeviceCredentials;
export const CREDENTIAL_KINDS: readonly CredentialKind[] = ['mqtt', 'psk', 'rpk', 'x509'];

/** What may be shown of each credential: identities, never secrets. */
export interface CredentialsSummary {
  mqtt?: { username: string };
  psk?: { identity: string };
  /** SHA-256 of the SubjectPublicKeyInfo DER, hex. */
  rpk?: { fingerprint: string };
  x509?: { subject: string; notAfter: string };
}

/** RFC 4279 §5.3: identities up to 2^16-1 bytes, but LwM2M clients use short names. */
const MAX_IDENTITY = 128;
/** RFC 4279 §5.4: implementations must support PSKs up to 64 octets. */
const MAX_PSK_BYTES = 64;
const MAX_PASSWORD = 1024;

/**
 * Checks credentials given in clear and turns them into what the store keeps: the MQTT password
 * as an scrypt hash, the PSK as bytes, the RPK as normalised SPKI DER, the certificate with its
 * subject. `null` (remove this kind) is passed through for patches. Throws HubError naming the
 * field.
 */
export async function prepareCredentials(
  input: CredentialsInput,
  field = 'credentials',
): Promise<{ [K in CredentialKind]?: DeviceCredentials[K] | null }> {
  const out: { [K in CredentialKind]?: DeviceCredentials[K] | null } = {};
  if (input.psk !== undefined) out.psk = input.psk && preparePsk(input.psk, `${field}.psk`);
  if (input.rpk !== undefined) out.rpk = input.rpk && prepareRpk(input.rpk, `${field}.rpk`);
  if (input.x509 !== undefined) out.x509 = input.x509 && prepareX509(input.x509, `${field}.x509`);
  if (input.mqtt !== undefined) {
    out.mqtt = input.mqtt && (await prepareMqtt(input.mqtt, `${field}.mqtt`));
  }
  return out;
}

function preparePsk(psk: { identity: string; key: string }, field: string) {
  checkIdentity(psk.identity, `${field}.identity`, MAX_IDENTITY);
  if (typeof psk.key !== 'string' || !/^(?:[0-9a-fA-F]{2})+$/.test(psk.key)) {
    throw invalid(`${field}.key`, 'must be the key as hexadecimal (an even number of 0-9a-f)');
  }
  const key = Buffer.from(psk.key, 'hex');
  if (key.length > MAX_PSK_BYTES) {
    throw invalid(`${field}.key`, `must be at most ${MAX_PSK_BYTES} bytes (RFC 4279 §5.4)`);
  }
  return { identity: psk.identity, key };
}

function prepareRpk(rpk: { publicKey: string }, field: string) {
  const f = `${field}.publicKey`;
  if (typeof rpk.publicKey !== 'string' || !/^[A-Za-z0-9+/=\s]+$/.test(rpk.publicKey)) {
    throw invalid(f, 'must be a SubjectPublicKeyInfo in DER, base64-encoded');
  }
  let key: ReturnType<typeof createPublicKey>;
  try {
    key = createPublicKey({
      key: Buffer.from(rpk.publicKey, 'base64'),
      format: 'der',
      type: 'spki',
    });
  } catch {
    throw invalid(f, 'is not a valid SubjectPublicKeyInfo (DER, base64-encoded)');
  }
  // RFC 7250 raw public keys in LwM2M go with ECDHE_ECDSA cipher suites (LwM2M-TS-Transport §5.2.8.3).
  if (key.asymmetricKeyType !== 'ec') {
    throw invalid(f, `must be an elliptic-curve key, not ${key.asymmetricKeyType}`);
  }
  // Stored re-encoded, so the same key always compares equal whatever whitespace it came with.
  return { publicKey: key.export({ format: 'der', type: 'spki' }) };
}

function prepareX509(x509: { certificate: string }, field: string) {
  const f = `${field}.certificate`;
  if (
    typeof x509.certificate !== 'string' ||
    !x509.certificate.includes('-----BEGIN CERTIFICATE-----')
  ) {
    throw invalid(f, 'must be a PEM certificate (-----BEGIN CERTIFICATE-----)');
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(x509.certificate);
  } catch {
    throw invalid(f, 'is not a valid X.509 certificate');
  }
  if (!cert.subject) throw invalid(f, 'has an empty subject');
  return { certificate: cert.toString(), subject: cert.subject };
}

async function prepareMqtt(mqtt: { username: string; password: string }, field: string) {
  // MQTT-1.5.4: a UTF-8 string of at most 65535 bytes; long names only waste index space.
  checkIdentity(mqtt.username, `${field}.username`, 256);
  if (mqtt.username === APP_USERNAME) {
    throw invalid(`${field}.username`, `"${APP_USERNAME}" is the user name of applications`);
  }
  if (typeof mqtt.password !== 'string' || mqtt.password.length === 0) {
    throw invalid(`${field}.password`, 'must be a non-empty string');
  }
  if (mqtt.password.length > MAX_PASSWORD) {
    throw invalid(`${field}.password`, `must be at most ${MAX_PASSWORD} characters`);
  }
  return { username: mqtt.username, passwordHash: await hashPassword(mqtt.password) };
}

function checkIdentity(value: unknown, field: string, max: number): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw invalid(field, `must be a string of 1 to ${max} characters`);
  }
  if (/[\u0000-\u001f\u007f]/.test(value))
    throw invalid(field, 'must not contain control characters');
}

/** The non-secret part of stored credentials, for API answers and logs. */
export function summarizeCredentials(c: DeviceCredentials): CredentialsSummary {
  const out: CredentialsSummary = {};
  if (c.mqtt) out.mqtt = { username: c.mqtt.username };
  if (c.psk) out.psk = { identity: c.psk.identity };
  if (c.rpk) out.rpk = { fingerprint: createHash('sha256').update(c.rpk.publicKey).digest('hex') };
  if (c.x509) {
    let notAfter = '';
    try {
      notAfter = new Date(new X509Certificate(c.x509.certificate).validTo).toISOString();
    } catch {
      // A certificate stored by an older version and no longer parseable still has its subject.
    }
    out.x509 = { subject: c.x509.subject, notAfter };
  }
  return out;
}

/**
 * Whether a DTLS peer proved its identity with one of these credentials: the PSK identity, the
 * raw public key (the same SubjectPublicKeyInfo bytes), or a certificate with the stored
 * certificate's subject (LwM2M-TS-Transport 1.1 §5.2.8: what identifies the client in each
 * mode). For closing the sessions of revoked credentials.
 */
export function provenBy(identity: PeerIdentity, credentials: DeviceCredentials): boolean {
  switch (identity.kind) {
    case 'psk':
      return credentials.psk?.identity === identity.identity;
    case 'rpk':
      return credentials.rpk?.publicKey.equals(identity.publicKey) ?? false;
    case 'x509':
      return credentials.x509?.subject === identity.subject;
  }
}
