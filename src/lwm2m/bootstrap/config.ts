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
}

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
  });
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

/** A configuration as JSON (keys and identities in base64), for stores and the API. */
export function bootstrapConfigToJson(config: BootstrapConfig): unknown {
  return {
    ...config,
    servers: config.servers.map((s) => {
      const out: Record<string, unknown> = { ...s };
      for (const f of BUFFER_FIELDS) if (s[f]) out[f] = s[f].toString('base64');
      return out;
    }),
  };
}

/** The inverse of bootstrapConfigToJson; validates the result. */
export function bootstrapConfigFromJson(json: unknown): BootstrapConfig {
  const raw = json as { deleteFirst?: boolean; servers?: Record<string, unknown>[] };
  if (!raw || !Array.isArray(raw.servers)) {
    throw new ConfigValidationError('servers must be a list of server accounts');
  }
  const config: BootstrapConfig = {
    ...(raw.deleteFirst === undefined ? {} : { deleteFirst: raw.deleteFirst }),
    servers: raw.servers.map((s) => {
      const account = { ...s } as unknown as ServerAccount & Record<string, unknown>;
      for (const f of BUFFER_FIELDS) {
        if (typeof s[f] === 'string') account[f] = Buffer.from(s[f] as string, 'base64');
      }
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
