/**
 * The storage ports. Callers depend on these interfaces only; the embedded default is SQLite
 * (./sqlite), and other backends (Postgres, Redis) implement the same ports and pass the same
 * contract tests (test/store/contract.ts).
 */

export type DeviceProtocol = 'lwm2m' | 'mqtt';

export interface DeviceRecord {
  readonly id: string;
  readonly protocol: DeviceProtocol;
  readonly tags: readonly string[];
  readonly metadata: Readonly<Record<string, unknown>>;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** Secrets as stored: MQTT passwords only as a hash, DTLS keys as they must be used. */
export interface DeviceCredentials {
  mqtt?: { username: string; passwordHash: string };
  psk?: { identity: string; key: Buffer };
  /** Raw public key, SubjectPublicKeyInfo DER. */
  rpk?: { publicKey: Buffer };
  /** Client certificate (PEM) whose subject identifies the device. */
  x509?: { certificate: string; subject: string };
}

export interface NewDevice {
  id: string;
  protocol: DeviceProtocol;
  tags?: readonly string[];
  metadata?: Readonly<Record<string, unknown>>;
  credentials?: DeviceCredentials;
}

export interface DevicePatch {
  tags?: readonly string[];
  metadata?: Readonly<Record<string, unknown>>;
  /** Replaces the credentials of the kinds given; `null` removes that kind. */
  credentials?: { [K in keyof DeviceCredentials]?: DeviceCredentials[K] | null };
}

export interface DeviceQuery {
  protocol?: DeviceProtocol;
  tag?: string;
  /** Devices whose id sorts after this one (keyset pagination). */
  after?: string;
  limit?: number;
}

export class StoreConflictError extends Error {
  readonly code = 'TANDEM_ERR_STORE_CONFLICT';
}

export interface DeviceStore {
  /** Throws StoreConflictError when the id or one of the credential identities is taken. */
  create(device: NewDevice): Promise<DeviceRecord>;
  get(id: string): Promise<DeviceRecord | undefined>;
  list(query?: DeviceQuery): Promise<DeviceRecord[]>;
  /** Returns undefined when there is no such device. */
  update(id: string, patch: DevicePatch): Promise<DeviceRecord | undefined>;
  /** Removes the device and every credential of it; false when there was none. */
  delete(id: string): Promise<boolean>;
  credentials(id: string): Promise<DeviceCredentials | undefined>;
  findByMqttUsername(
    username: string,
  ): Promise<{ deviceId: string; passwordHash: string } | undefined>;
  findByPskIdentity(identity: string): Promise<{ deviceId: string; key: Buffer } | undefined>;
  /** The device whose client certificate has this subject (as node:crypto X509Certificate writes it). */
  findByX509Subject(subject: string): Promise<{ deviceId: string } | undefined>;
  /** The device whose raw public key (SubjectPublicKeyInfo DER, RFC 7250) is exactly this one. */
  findByRawPublicKey(publicKey: Buffer): Promise<{ deviceId: string } | undefined>;
  /** Every PSK credential, to warm the DTLS handshake cache at start. */
  pskCredentials(): Promise<{ deviceId: string; identity: string; key: Buffer }[]>;
  count(): Promise<number>;
}

export type TelemetryValue = number | string | boolean | null;

export interface TelemetryPoint {
  deviceId: string;
  /** LwM2M path (`/3303/0/5700`) or, for unmapped MQTT data, `mqtt:<topic>`. */
  path: string;
  /** Milliseconds since the epoch. */
  ts: number;
  value: TelemetryValue;
}

export interface TelemetryQuery {
  deviceId: string;
  path?: string;
  from?: number;
  to?: number;
  limit?: number;
}

/** One time bucket of one path: the points whose `ts` fell in `[ts, ts + interval)`. */
export interface TelemetryBucket {
  path: string;
  /** Start of the bucket, milliseconds since the epoch (a multiple of the interval). */
  ts: number;
  /** Over the numeric values of the bucket; null when it held none. */
  min: number | null;
  max: number | null;
  avg: number | null;
  /** Points in the bucket, whatever their type. */
  count: number;
  /** The value with the latest timestamp. */
  last: TelemetryValue;
}

export interface TelemetryBucketQuery extends TelemetryQuery {
  /** Bucket width in ms: a multiple of one of the store's rollup intervals. */
  intervalMs: number;
}

/** How many raw points and rollup buckets the retention sweeps have deleted since start. */
export interface TelemetryExpiry {
  readonly points: number;
  readonly buckets: number;
}

export class TelemetryIntervalError extends Error {
  readonly code = 'TANDEM_ERR_TELEMETRY_INTERVAL';
}

export interface TelemetryStore {
  /** Buffers points; they are durable after the next flush (batch full, interval, or stop). */
  append(points: readonly TelemetryPoint[]): void;
  /** Newest first. Includes points not yet flushed. */
  query(query: TelemetryQuery): Promise<TelemetryPoint[]>;
  /**
   * Downsampled telemetry from the rollups, newest first, then by path; buckets that start
   * within `[from, to]` (from rounded down to the interval). Throws TelemetryIntervalError when
   * the interval is not a multiple of a kept rollup interval.
   */
  buckets(query: TelemetryBucketQuery): Promise<TelemetryBucket[]>;
  /** Deletes every expired point and bucket now (a timer does it in the background too). */
  sweep(): Promise<void>;
  /** The rollup intervals kept, in ms, finest first. */
  readonly intervals: readonly number[];
  /** Points waiting in the write buffer. */
  readonly pending: number;
  readonly expired: TelemetryExpiry;
  /** Batches whose write failed (each reported to the store's onError, its points put back). */
  readonly failedBatches: number;
  /** Points dropped because the buffer overflowed while writes kept failing. */
  readonly dropped: number;
}

/** What an API token may do; each role includes the ones before it. */
export type ApiRole = 'read-only' | 'operator' | 'admin';

export interface ApiTokenRecord {
  /** Public handle of the token (listing, revoking); never the secret. */
  readonly id: string;
  readonly role: ApiRole;
  readonly description: string;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
}

export interface NewApiToken {
  id: string;
  role: ApiRole;
  description?: string;
  /** SHA-256 of the secret token; the secret itself is never stored. */
  hash: Buffer;
}

export interface TokenStore {
  /** Throws StoreConflictError when the id or the hash exists. */
  create(token: NewApiToken): Promise<ApiTokenRecord>;
  /** Creates or replaces the token with this id (the one from TANDEM_ADMIN_TOKEN). */
  put(token: NewApiToken): Promise<ApiTokenRecord>;
  findByHash(hash: Buffer): Promise<ApiTokenRecord | undefined>;
  /** Oldest first. */
  list(): Promise<ApiTokenRecord[]>;
  /** False when there was none. */
  delete(id: string): Promise<boolean>;
}

/**
 * Where a queued command is (src/hub/commands/queue.ts): `queued` until it leaves for the
 * device, `sent` until the device answers; then one of the final states.
 */
export type CommandStatus = 'queued' | 'sent' | 'succeeded' | 'failed' | 'expired' | 'cancelled';

export interface CommandRecord {
  readonly id: string;
  readonly deviceId: string;
  /** The command document (src/hub/commands/command-json.ts). */
  readonly command: Readonly<Record<string, unknown>>;
  readonly status: CommandStatus;
  /** The API token that submitted it. */
  readonly by?: string;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  readonly updatedAt: number;
  /** The command expires when it has not left for the device by then. */
  readonly expiresAt: number;
  /** Once finished: the device's result (`{status, body}`) or the error body. */
  readonly outcome?: Readonly<Record<string, unknown>>;
}

export interface CommandStore {
  /** Throws StoreConflictError when the id exists. */
  create(record: CommandRecord): Promise<void>;
  /** Sets the status (and outcome); undefined when there is no such command. */
  update(
    id: string,
    change: { status: CommandStatus; updatedAt: number; outcome?: Record<string, unknown> },
  ): Promise<CommandRecord | undefined>;
  get(id: string): Promise<CommandRecord | undefined>;
  /** A device's commands, newest first. */
  list(deviceId: string, limit: number): Promise<CommandRecord[]>;
  /** Commands queued or sent, oldest first: what a restart resumes. */
  unfinished(): Promise<CommandRecord[]>;
  /** Deletes finished commands last changed before `before`; returns how many. */
  prune(before: number): Promise<number>;
}

/** A URL that device events are posted to (src/hub/webhooks.ts). */
export interface WebhookRecord {
  readonly id: string;
  /** http: or https: */
  readonly url: string;
  /** The event types posted; empty: every type. */
  readonly events: readonly string[];
  /** The devices whose events are posted; empty: every device. */
  readonly devices: readonly string[];
  /** Data events only at or below these LwM2M paths; empty: no path filter. */
  readonly paths: readonly string[];
  /** Key of the HMAC-SHA256 signature; absent: deliveries are not signed. */
  readonly secret?: string;
  readonly description: string;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
}

export interface NewWebhook {
  id: string;
  url: string;
  events?: readonly string[];
  devices?: readonly string[];
  paths?: readonly string[];
  secret?: string;
  description?: string;
}

export interface WebhookStore {
  /** Throws StoreConflictError when the id exists. */
  create(webhook: NewWebhook): Promise<WebhookRecord>;
  get(id: string): Promise<WebhookRecord | undefined>;
  /** Oldest first. */
  list(): Promise<WebhookRecord[]>;
  /** False when there was none. */
  delete(id: string): Promise<boolean>;
}

/** A device profile (src/hub/profiles.ts): how a plain MQTT device's topics map to resources. */
export interface ProfileRecord {
  readonly id: string;
  readonly description: string;
  readonly mappings: readonly { topic: string; path: string; field?: string }[];
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface ProfileStore {
  /** Creates the profile, or replaces the one with this id; `created` says which. */
  put(profile: {
    id: string;
    description: string;
    mappings: ProfileRecord['mappings'];
  }): Promise<{ profile: ProfileRecord; created: boolean }>;
  get(id: string): Promise<ProfileRecord | undefined>;
  /** By id. */
  list(): Promise<ProfileRecord[]>;
  /** False when there was none; throws StoreConflictError while devices use it. */
  delete(id: string): Promise<boolean>;
  /** Gives the device a profile, or none (`null`); throws StoreConflictError for an unknown one. */
  assign(deviceId: string, profileId: string | null): Promise<void>;
  profileOf(deviceId: string): Promise<string | undefined>;
}

export interface StoreHealth {
  ok: boolean;
  backend: string;
  detail?: string;
}

export interface Store {
  readonly devices: DeviceStore;
  readonly telemetry: TelemetryStore;
  readonly tokens: TokenStore;
  readonly commands: CommandStore;
  readonly profiles: ProfileStore;
  readonly webhooks: WebhookStore;
  health(): StoreHealth;
  /** Writes everything buffered. */
  flush(): Promise<void>;
  /** Flushes, then releases the backend. */
  close(): Promise<void>;
}
