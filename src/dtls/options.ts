import type { Logger } from 'pino';
import type { Clock } from '../util/clock.js';
import { type CipherSuite, type CipherSuiteName, CipherSuites } from './cipher-suites.js';
import type { RetransmitOptions } from './connection.js';
import type { CertificateConfig, TrustConfig } from './crypto/credentials.js';

/** Options common to the server and the client. */
export interface DtlsCommonOptions {
  /** Cipher suites in order of preference; default: all four, CCM_8 first. */
  cipherSuites?: CipherSuiteName[];
  /** Our ECDSA P-256 key and optional X.509 chain (raw public key without a chain). */
  certificate?: CertificateConfig;
  /** How the peer's certificate or raw public key is judged. */
  trust?: TrustConfig;
  /** Largest datagram sent; flights are fragmented to fit (RFC 6347 §4.1.1.1). Default 1200. */
  mtu?: number;
  /** RFC 6347 §4.2.4.1 timers. */
  retransmit?: Partial<RetransmitOptions>;
  clock?: Clock;
  logger?: Pick<Logger, 'debug' | 'info' | 'warn'>;
}

export const defaultCipherSuites: CipherSuiteName[] = [
  'TLS_PSK_WITH_AES_128_CCM_8',
  'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8',
  'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
  'TLS_PSK_WITH_AES_128_CBC_SHA256',
];

export function resolveSuites(names: CipherSuiteName[] | undefined): CipherSuite[] {
  return (names ?? defaultCipherSuites).map((n) => {
    const s = CipherSuites[n];
    if (!s) throw new Error(`unknown cipher suite ${n}`);
    return s;
  });
}
