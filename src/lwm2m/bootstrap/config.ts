/**
 * What the Bootstrap-Server writes to a client (LwM2M 1.0 §5.2.7, TS-Core 1.1 §6.1): the LwM2M
 * Server accounts, each a Security (object 0) and a Server (object 1) instance.
 */
export type SecurityMode = 'psk' | 'rpk' | 'x509' | 'nosec';

/** Security Mode resource /0/x/2 (LwM2M 1.0 Appendix E.1). */
export const SECURITY_MODE_VALUE: Record<SecurityMode, number> = {
  psk: 0,
  rpk: 1,
  x509: 2,
  nosec: 3,
};

export interface ServerAccount {
  /** Short Server ID, 1..65534 (/0/x/10 and /1/x/0). */
  shortServerId: number;
  /** LwM2M Server URI (/0/x/0), e.g. `coaps://tandem.example:5684`. */
  uri: string;
  securityMode: SecurityMode;
  /** /0/x/3: the PSK identity (UTF-8 bytes), the client's raw public key or certificate. */
  publicKeyOrIdentity?: Buffer;
  /** /0/x/4: the server's raw public key or certificate. */
  serverPublicKey?: Buffer;
  /** /0/x/5: the PSK key or the client's private key. */
  secretKey?: Buffer;
  /** Registration lifetime in seconds (/1/x/1). */
  lifetime: number;
  /** Binding (/1/x/7), default `U`. */
  binding?: string;
  /** Notification Storing When Disabled or Offline (/1/x/6), default true. */
  notificationStoring?: boolean;
  /**
   * An OSCORE security context for this account (the OSCORE object 21, LwM2M-TS-Core 1.1
   * Appendix E.9, written at Bootstrap-Write and linked from resource 17 of the account's
   * Security instance): the client then
   * protects its messages to that server with OSCORE (RFC 8613), over coap:// with Security
   * Mode NoSec or inside DTLS. Tandem only provisions the context; its own LwM2M server does not
   * speak OSCORE, so the account's URI names a server that does.
   */
  oscore?: OscoreSettings;
}

/**
 * The OSCORE object (21) of an account: the input parameters of an OSCORE security context
 * (RFC 8613 §3.2), as the client's side of it (its Sender ID is the server's Recipient ID).
 */
export interface OscoreSettings {
  /** /21/x/0, RFC 8613 §3.2.1. */
  masterSecret: Buffer;
  /** /21/x/1: the client's Sender ID (RFC 8613 §3.1); may be empty. */
  senderId: Buffer;
  /** /21/x/2: the client's Recipient ID, the server's Sender ID; may be empty. */
  recipientId: Buffer;
  /** /21/x/3: COSE AEAD algorithm (RFC 8152 Tables 9-11); absent: AES-CCM-16-64-128 (10). */
  aeadAlgorithm?: number;
  /** /21/x/4: the HMAC of the HKDF (RFC 8152 Table 7, or the HKDF ids -10/-11); absent: SHA-256. */
  hmacAlgorithm?: number;
  /** /21/x/5: absent means the empty salt (RFC 8613 §3.2.1). */
  masterSalt?: Buffer;
  /** /21/x/6 (RFC 8613 §3.2.1, §5.1). */
  idContext?: Buffer;
}

/**
 * COSE AEAD algorithms (RFC 8152 §10, Tables 9, 10 and 11) with their nonce length: RFC 8613
 * §3.3 bounds Sender and Recipient IDs to the nonce length minus 6 bytes.
 */
export const OSCORE_AEAD_NONCE_BYTES: ReadonlyMap<number, number> = new Map([
  [1, 12], // A128GCM
  [2, 12], // A192GCM
  [3, 12], // A256GCM
  [10, 13], // AES-CCM-16-64-128, the default of RFC 8613 §3.2.1
  [11, 13], // AES-CCM-16-64-256
  [12, 7], // AES-CCM-64-64-128
  [13, 7], // AES-CCM-64-64-256
  [24, 12], // ChaCha20/Poly1305
  [30, 13], // AES-CCM-16-128-128
  [31, 13], // AES-CCM-16-128-256
  [32, 7], // AES-CCM-64-128-128
  [33, 7], // AES-CCM-64-128-256
]);

/**
 * HMAC algorithms for the OSCORE HKDF: the object 21 DDF names RFC 8152 Table 7 (4: HMAC
 * 256/64, 5: HMAC 256/256, 6: HMAC 384/384, 7: HMAC 512/512); implementations such as Leshan
 * write the COSE HKDF identifiers that RFC 8613 §3.2.1 uses instead (-10: HKDF SHA-256, -11:
 * HKDF SHA-512). Both are accepted and written as given.
 */
export const OSCORE_HMAC_ALGORITHMS: ReadonlySet<number> = new Set([4, 5, 6, 7, -10, -11]);

/** RFC 8613 §3.2.1: the default AEAD algorithm, AES-CCM-16-64-128. */
const DEFAULT_OSCORE_AEAD = 10;

export interface BootstrapConfig {
  /** Send Bootstrap-Delete on `/` first, clearing every account but the bootstrap one (default true). */
  deleteFirst?: boolean;
  servers: ServerAccount[];
}

/** Where bootstrap configurations live: by exact endpoint name, or by `*` pattern. */
export interface BootstrapConfigStore {
  /** The configuration for an endpoint: its own, else the longest matching pattern's. */
  get(endpoint: string): Promise<BootstrapConfig | undefined>;
  /** Sets the configuration of an endpoint name or pattern (`sensor-*`). */
  put(key: string, config: BootstrapConfig): Promise<void>;
  delete(key: string): Promise<boolean>;
  list(): Promise<{ key: string; config: BootstrapConfig }[]>;
}

export class ConfigValidationError extends Error {
  readonly code = 'TANDEM_ERR_BOOTSTRAP_CONFIG';
}

/** Checks a configuration before it is stored; throws ConfigValidationError naming the field. */
export function validateBootstrapConfig(config: BootstrapConfig): void {
  const ids = new Set<number>();
  config.servers.forEach((s, i) => {
    const at = `servers[${i}]`;
    if (!Number.isInteger(s.shortServerId) || s.shortServerId < 1 || s.shortServerId > 65534) {
      // LwM2M 1.0 Appendix E.2: Short Server ID 1-65534.
      throw new ConfigValidationError(`${at}.shortServerId must be 1-65534`);
    }
    if (ids.has(s.shortServerId)) {
      throw new ConfigValidationError(`${at}.shortServerId ${s.shortServerId} is used twice`);
    }
    ids.add(s.shortServerId);
    if (!/^coaps?(\+(tcp|sms))?:\/\//.test(s.uri)) {
      throw new ConfigValidationError(`${at}.uri must be a coap:// or coaps:// URI`);
    }
    const secured = s.uri.startsWith('coaps');
    if (secured === (s.securityMode === 'nosec')) {
      throw new ConfigValidationError(
        `${at}.securityMode ${s.securityMode} does not fit the URI scheme of ${s.uri}`,
      );
    }
    if (s.securityMode === 'psk' && (!s.publicKeyOrIdentity?.length || !s.secretKey?.length)) {
      throw new ConfigValidationError(`${at}: PSK mode needs an identity and a key`);
    }
    if (!Number.isInteger(s.lifetime) || s.lifetime < 1) {
      throw new ConfigValidationError(`${at}.lifetime must be a positive number of seconds`);
    }
    if (s.oscore) validateOscore(s.oscore, `${at}.oscore`);
  });
}

/** Minimum Master Secret: Tandem's policy, the key length of the default AEAD (128 bits). */
const MIN_MASTER_SECRET_BYTES = 16;

function validateOscore(o: OscoreSettings, at: string): void {
  for (const f of OSCORE_BUFFER_FIELDS) {
    if (o[f] !== undefined && !Buffer.isBuffer(o[f])) {
      throw new ConfigValidationError(`${at}.${f} must be bytes`);
    }
  }
  if (!o.masterSecret || !o.senderId || !o.recipientId) {
    // Resources 0, 1 and 2 of object 21 are mandatory.
    throw new ConfigValidationError(`${at} needs masterSecret, senderId and recipientId`);
  }
  if (o.masterSecret.length < MIN_MASTER_SECRET_BYTES) {
    throw new ConfigValidationError(
      `${at}.masterSecret must be at least ${MIN_MASTER_SECRET_BYTES} bytes`,
    );
  }
  const aead = o.aeadAlgorithm ?? DEFAULT_OSCORE_AEAD;
  const nonce = OSCORE_AEAD_NONCE_BYTES.get(aead);
  if (nonce === undefined) {
    throw new ConfigValidationError(
      `${at}.aeadAlgorithm ${aead} is not a COSE AEAD algorithm (RFC 8152 §10)`,
    );
  }
  if (o.hmacAlgorithm !== undefined && !OSCORE_HMAC_ALGORITHMS.has(o.hmacAlgorithm)) {
    throw new ConfigValidationError(
      `${at}.hmacAlgorithm ${o.hmacAlgorithm} is not an HMAC (RFC 8152 Table 7) or HKDF algorithm`,
    );
  }
  // RFC 8613 §3.3: an ID is at most the AEAD nonce length minus 6 bytes long.
  for (const f of ['senderId', 'recipientId'] as const) {
    if (o[f].length > nonce - 6) {
      throw new ConfigValidationError(
        `${at}.${f} is ${o[f].length} bytes; AEAD ${aead} allows at most ${nonce - 6} (RFC 8613 §3.3)`,
      );
    }
  }
  // RFC 8613 §3.3: the Sender ID and the Recipient ID of one context differ.
  if (o.senderId.equals(o.recipientId)) {
    throw new ConfigValidationError(`${at}: senderId and recipientId must differ (RFC 8613 §3.3)`);
  }
}

/**
 * The configuration for an endpoint among stored ones: its own (exact key), else the one of the
 * longest `*` pattern that matches it. Shared by every store.
 */
export function pickBootstrapConfig<T>(
  entries: Iterable<[key: string, value: T]>,
  endpoint: string,
): T | undefined {
  let best: { key: string; value: T } | undefined;
  for (const [key, value] of entries) {
    if (key === endpoint) return value;
    if (!key.includes('*') || !globMatches(key, endpoint)) continue;
    if (!best || key.length > best.key.length) best = { key, value };
  }
  return best?.value;
}

const BUFFER_FIELDS = ['publicKeyOrIdentity', 'serverPublicKey', 'secretKey'] as const;
const OSCORE_BUFFER_FIELDS = [
  'masterSecret',
  'senderId',
  'recipientId',
  'masterSalt',
  'idContext',
] as const;
const HEX = /^(?:[0-9a-fA-F]{2})*$/;

/**
 * A configuration as JSON, for stores and the API: keys and identities in base64, the OSCORE
 * context's bytes in hex (as RFC 8613 Appendix C writes them).
 */
export function bootstrapConfigToJson(config: BootstrapConfig): unknown {
  return {
    ...config,
    servers: config.servers.map((s) => {
      const out: Record<string, unknown> = { ...s };
      for (const f of BUFFER_FIELDS) if (s[f]) out[f] = s[f].toString('base64');
      if (s.oscore) {
        const oscore: Record<string, unknown> = { ...s.oscore };
        for (const f of OSCORE_BUFFER_FIELDS) {
          if (s.oscore[f]) oscore[f] = s.oscore[f].toString('hex');
        }
        out.oscore = oscore;
      }
      return out;
    }),
  };
}

function oscoreFromJson(json: unknown, at: string): OscoreSettings {
  if (typeof json !== 'object' || json === null) {
    throw new ConfigValidationError(`${at} must be an object`);
  }
  const out = { ...json } as Record<string, unknown>;
  for (const f of OSCORE_BUFFER_FIELDS) {
    const v = out[f];
    if (v === undefined) continue;
    if (typeof v !== 'string' || !HEX.test(v)) {
      throw new ConfigValidationError(`${at}.${f} must be hex digits, two per byte`);
    }
    out[f] = Buffer.from(v, 'hex');
  }
  return out as unknown as OscoreSettings;
}

/** The inverse of bootstrapConfigToJson; validates the result. */
export function bootstrapConfigFromJson(json: unknown): BootstrapConfig {
  const raw = json as { deleteFirst?: boolean; servers?: Record<string, unknown>[] };
  if (!raw || !Array.isArray(raw.servers)) {
    throw new ConfigValidationError('servers must be a list of server accounts');
  }
  const config: BootstrapConfig = {
    ...(raw.deleteFirst === undefined ? {} : { deleteFirst: raw.deleteFirst }),
    servers: raw.servers.map((s, i) => {
      const account = { ...s } as unknown as ServerAccount & Record<string, unknown>;
      for (const f of BUFFER_FIELDS) {
        if (typeof s[f] === 'string') account[f] = Buffer.from(s[f] as string, 'base64');
      }
      if (s.oscore !== undefined) account.oscore = oscoreFromJson(s.oscore, `servers[${i}].oscore`);
      return account;
    }),
  };
  validateBootstrapConfig(config);
  return config;
}

/** In-memory configurations; patterns use `*` for any run of characters. */
export class MemoryBootstrapConfigStore implements BootstrapConfigStore {
  readonly #configs = new Map<string, BootstrapConfig>();

  async get(endpoint: string): Promise<BootstrapConfig | undefined> {
    return pickBootstrapConfig(this.#configs, endpoint);
  }

  async put(key: string, config: BootstrapConfig): Promise<void> {
    validateBootstrapConfig(config);
    this.#configs.set(key, config);
  }

  async delete(key: string): Promise<boolean> {
    return this.#configs.delete(key);
  }

  async list(): Promise<{ key: string; config: BootstrapConfig }[]> {
    return [...this.#configs].map(([key, config]) => ({ key, config }));
  }
}

function globMatches(pattern: string, text: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return re.test(text);
}
