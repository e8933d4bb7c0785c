import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'selfsigned';

export interface TlsMaterial {
  cert: string;
  key: string;
  ca?: string;
  /** True when the pair is the generated development certificate. */
  generated: boolean;
}

/**
 * The TLS certificate of the MQTTS listener: the configured PEM files, or a self-signed
 * development certificate for localhost generated once into `<dataDir>/tls/` and reused.
 */
export async function loadTlsMaterial(
  dataDir: string,
  files: { cert?: string | undefined; key?: string | undefined; ca?: string | undefined },
): Promise<TlsMaterial> {
  const ca = files.ca ? readFileSync(files.ca, 'utf8') : undefined;
  const withCa = ca === undefined ? {} : { ca };
  if (files.cert || files.key) {
    if (!files.cert || !files.key) throw new Error('listeners.mqtts needs both cert and key');
    return {
      cert: readFileSync(files.cert, 'utf8'),
      key: readFileSync(files.key, 'utf8'),
      ...withCa,
      generated: false,
    };
  }
  const pair = await developmentCertificate(join(dataDir, 'tls'));
  return { cert: pair.cert, key: pair.key, ...withCa, generated: true };
}

/**
 * A self-signed ECDSA P-256 certificate for localhost (and 127.0.0.1, ::1) in `dir`, generated
 * on first use and reused afterwards: the development identity of the MQTTS and DTLS listeners.
 * `created` tells whether this call generated it.
 */
export async function developmentCertificate(
  dir: string,
): Promise<{ cert: string; key: string; keyPath: string; created: boolean }> {
  const certPath = join(dir, 'dev-cert.pem');
  const keyPath = join(dir, 'dev-key.pem');
  if (existsSync(certPath) && existsSync(keyPath)) {
    return {
      cert: readFileSync(certPath, 'utf8'),
      key: readFileSync(keyPath, 'utf8'),
      keyPath,
      created: false,
    };
  }
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 365 * 24 * 3600 * 1000),
    extensions: [
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  mkdirSync(dir, { recursive: true });
  writeFileSync(certPath, pems.cert);
  writeFileSync(keyPath, pems.private, { mode: 0o600 });
  return { cert: pems.cert, key: pems.private, keyPath, created: true };
}
