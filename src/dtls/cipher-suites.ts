import { CBC_SHA256, CCM8, type CipherParams, GCM } from './crypto/record-cipher.js';

/** The cipher suites Tandem speaks; all use the TLS 1.2 PRF with SHA-256. */
export interface CipherSuite {
  readonly id: number;
  readonly name: string;
  readonly keyExchange: 'psk' | 'ecdhe_ecdsa';
  readonly cipher: CipherParams;
}

export const CipherSuites = {
  /** RFC 6655 §4; the mandatory PSK suite of RFC 7925 §4.2 and LwM2M. */
  TLS_PSK_WITH_AES_128_CCM_8: {
    id: 0xc0a8,
    name: 'TLS_PSK_WITH_AES_128_CCM_8',
    keyExchange: 'psk',
    cipher: CCM8,
  },
  /** RFC 5487 §3.2. */
  TLS_PSK_WITH_AES_128_CBC_SHA256: {
    id: 0x00ae,
    name: 'TLS_PSK_WITH_AES_128_CBC_SHA256',
    keyExchange: 'psk',
    cipher: CBC_SHA256,
  },
  /** RFC 7251 §2; mandatory for certificates and raw public keys in RFC 7925 §4.3. */
  TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8: {
    id: 0xc0ae,
    name: 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8',
    keyExchange: 'ecdhe_ecdsa',
    cipher: CCM8,
  },
  /** RFC 5289 §3.2. */
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: {
    id: 0xc02b,
    name: 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
    keyExchange: 'ecdhe_ecdsa',
    cipher: GCM,
  },
} as const satisfies Record<string, CipherSuite>;

export type CipherSuiteName = keyof typeof CipherSuites;

const byId = new Map<number, CipherSuite>(Object.values(CipherSuites).map((s) => [s.id, s]));

export function cipherSuiteById(id: number): CipherSuite | undefined {
  return byId.get(id);
}
