import type {
  DeviceCredentials,
  DeviceProtocol,
  DeviceRecord,
  DeviceStore,
} from '../store/ports.js';
import { StoreConflictError } from '../store/ports.js';
import {
  CREDENTIAL_KINDS,
  type CredentialKind,
  type CredentialsInput,
  type CredentialsSummary,
  prepareCredentials,
  summarizeCredentials,
} from './credentials.js';
import { HubError, invalid } from './errors.js';
import { TypedEmitter } from './events.js';
import { authenticateMqtt, type MqttAuthOutcome, type MqttCredentialsCheck } from './mqtt-auth.js';
import type { PskCache } from './psk-cache.js';

/** A device as the hub shows it: no secrets, with its live state. */
export interface DeviceView {
  id: string;
  protocol: DeviceProtocol;
  tags: readonly string[];
  metadata: Readonly<Record<string, unknown>>;
  credentials: CredentialsSummary;
  /** True while the device holds at least one authenticated connection to this node. */
  online: boolean;
  createdAt: number;
  updatedAt: number;
}

export interface NewDeviceInput {
  id: string;
  protocol: DeviceProtocol;
  tags?: readonly string[];
  metadata?: Record<string, unknown>;
  credentials?: CredentialsInput;
}

export interface DevicePatchInput {
  tags?: readonly string[];
  metadata?: Record<string, unknown>;
  /** Each kind given replaces that credential; `null` removes it. Either revokes the old one. */
  credentials?: CredentialsInput;
}

export interface DeviceListQuery {
  protocol?: DeviceProtocol;
  tag?: string;
  online?: boolean;
  /** Keyset cursor: the `next` of the previous page (a device id). */
  after?: string;
  limit?: number;
}

/** An authenticated connection of a device, which the registry can close when it revokes. */
export interface LiveSession {
  protocol: DeviceProtocol;
  /**
   * The credential kind it authenticated with; revoking that kind closes the session. None (an
   * unsecured LwM2M registration, anonymous development mode): only deleting the device does.
   */
  credential?: CredentialKind;
  close(): void;
}

export interface RegistryEvents {
  registered: { device: DeviceView };
  updated: { device: DeviceView; revoked: readonly CredentialKind[] };
  deleted: { id: string };
  /** Credentials of these kinds stopped being valid (replaced, removed, or the device deleted). */
  revoked: { id: string; kinds: readonly CredentialKind[]; sessionsClosed: number };
  online: { id: string; protocol: DeviceProtocol };
  offline: { id: string; protocol: DeviceProtocol };
}

export interface DeviceRegistryOptions {
  store: DeviceStore;
  /** Kept current with PSK credentials, so DTLS handshakes see a change at once. */
  psk?: PskCache;
  /**
   * Called (synchronously, after the store changed and the registry closed the sessions it
   * knows) when credentials of a device are revoked, for transports that keep state the
   * registry cannot reach (DTLS sessions, persistent MQTT sessions). `revoked` holds the
   * revoked credentials as they were, to find what they authenticated.
   */
  onRevoke?: (
    deviceId: string,
    kinds: readonly CredentialKind[],
    revoked: DeviceCredentials,
  ) => void;
  onListenerError?: (err: unknown, event: string) => void;
}

/** Device ids appear in URLs and MQTT topics: no `/`, `+`, `#`, spaces or `%`. */
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@~=-]{0,127}$/;
const MAX_TAGS = 32;
const TAG_PATTERN = /^[^\s,][^,\u0000-\u001f]{0,63}$/;
const MAX_METADATA_BYTES = 16 * 1024;
/** Below the stores' own cap (1000), so that the one extra device asked for always comes. */
export const MAX_PAGE = 500;
const DEFAULT_PAGE = 100;

/**
 * The hub's API for devices: the one place that creates, changes and deletes them, hashes and
 * checks their credentials, and revokes what a change makes invalid — the PSK cache entry, the
 * live connections, and (through `onRevoke`) whatever a transport keeps.
 */
export class DeviceRegistry {
  readonly events: TypedEmitter<RegistryEvents>;
  readonly #store: DeviceStore;
  readonly #psk: PskCache | undefined;
  readonly #onRevoke: DeviceRegistryOptions['onRevoke'];
  readonly #sessions = new Map<string, Set<LiveSession>>();
  /** Counts revocations, so an authentication that raced one is checked again. */
  #revocations = 0;

  constructor(options: DeviceRegistryOptions) {
    this.#store = options.store;
    this.#psk = options.psk;
    this.#onRevoke = options.onRevoke;
    this.events = new TypedEmitter(options.onListenerError);
  }

  async create(input: NewDeviceInput): Promise<DeviceView> {
    checkId(input.id);
    if (input.protocol !== 'lwm2m' && input.protocol !== 'mqtt') {
      throw invalid('protocol', 'must be "lwm2m" or "mqtt"');
    }
    const tags = input.tags === undefined ? undefined : checkTags(input.tags);
    const metadata = input.metadata === undefined ? undefined : checkMetadata(input.metadata);
    const prepared = await prepareCredentials(input.credentials ?? {});
    const credentials: DeviceCredentials = {};
    for (const kind of CREDENTIAL_KINDS) {
      const c = prepared[kind];
      if (c) Object.assign(credentials, { [kind]: c });
    }
    let record: DeviceRecord;
    try {
      record = await this.#store.create({
        id: input.id,
        protocol: input.protocol,
        ...(tags ? { tags } : {}),
        ...(metadata ? { metadata } : {}),
        credentials,
      });
    } catch (err) {
      throw conflict(err);
    }
    if (credentials.psk) this.#psk?.set(credentials.psk.identity, record.id, credentials.psk.key);
    const device = this.#view(record, credentials);
    this.events.emit('registered', { device });
    return device;
  }

  async get(id: string): Promise<DeviceView | undefined> {
    const record = await this.#store.get(id);
    if (!record) return undefined;
    return this.#view(record, (await this.#store.credentials(id)) ?? {});
  }

  /** A page of devices in id order; `next` is the cursor of the following page, or null. */
  async list(query: DeviceListQuery = {}): Promise<{ devices: DeviceView[]; next: string | null }> {
    const limit = Math.min(Math.max(Math.trunc(query.limit ?? DEFAULT_PAGE), 1), MAX_PAGE);
    const devices: DeviceView[] = [];
    let after = query.after;
    // Online state lives in memory, not in the store: filter page by page until this one is
    // full. One extra device tells whether another page follows.
    for (;;) {
      const batch = await this.#store.list({
        ...(query.protocol ? { protocol: query.protocol } : {}),
        ...(query.tag !== undefined ? { tag: query.tag } : {}),
        ...(after !== undefined ? { after } : {}),
        limit: limit + 1,
      });
      for (const record of batch) {
        if (query.online !== undefined && this.isOnline(record.id) !== query.online) continue;
        if (devices.length === limit) return { devices, next: devices.at(-1)!.id };
        devices.push(this.#view(record, (await this.#store.credentials(record.id)) ?? {}));
      }
      if (batch.length <= limit) return { devices, next: null };
      after = batch.at(-1)!.id;
    }
  }

  async patch(id: string, patch: DevicePatchInput): Promise<DeviceView> {
    const tags = patch.tags === undefined ? undefined : checkTags(patch.tags);
    const metadata = patch.metadata === undefined ? undefined : checkMetadata(patch.metadata);
    const credentials = patch.credentials ? await prepareCredentials(patch.credentials) : {};
    const before = patch.credentials ? await this.#store.credentials(id) : undefined;
    let record: DeviceRecord | undefined;
    try {
      record = await this.#store.update(id, {
        ...(tags ? { tags } : {}),
        ...(metadata ? { metadata } : {}),
        ...(patch.credentials ? { credentials } : {}),
      });
    } catch (err) {
      throw conflict(err);
    }
    if (!record) throw notFound(id);
    const revoked = CREDENTIAL_KINDS.filter((k) => credentials[k] !== undefined);
    if (revoked.length > 0) this.#revoke(id, revoked, before);
    const psk = credentials.psk;
    if (psk) this.#psk?.set(psk.identity, id, psk.key);
    const device = this.#view(record, (await this.#store.credentials(id)) ?? {});
    this.events.emit('updated', { device, revoked });
    return device;
  }

  /** Deletes the device and revokes every credential of it at once. */
  async delete(id: string): Promise<void> {
    const before = await this.#store.credentials(id);
    if (!(await this.#store.delete(id))) throw notFound(id);
    this.#revoke(id, CREDENTIAL_KINDS, before);
    this.events.emit('deleted', { id });
  }

  /** Devices online on this node. */
  get onlineCount(): number {
    return this.#sessions.size;
  }

  isOnline(id: string): boolean {
    return (this.#sessions.get(id)?.size ?? 0) > 0;
  }

  /**
   * Checks MQTT CONNECT credentials and, for a device, records the connection as a live session
   * in the same step, so a revocation either happens before (and the check refuses) or after
   * (and closes the session). Returns `release` to call when the connection closes.
   */
  async authenticateMqtt(
    request: MqttCredentialsCheck,
    anonymousAllowed: boolean,
    session: Omit<LiveSession, 'protocol' | 'credential'>,
  ): Promise<MqttAuthOutcome & { release?: () => void }> {
    for (;;) {
      const epoch = this.#revocations;
      const outcome = await authenticateMqtt(this.#store, anonymousAllowed, request);
      if (!outcome.accept || outcome.deviceId === undefined) return outcome;
      // A revocation landed while the password was being verified: check against the registry
      // as it is now.
      if (epoch !== this.#revocations) continue;
      const release = this.attach(outcome.deviceId, {
        protocol: 'mqtt',
        credential: outcome.credential ?? 'mqtt',
        close: session.close,
      });
      return { ...outcome, release };
    }
  }

  /**
   * Records an authenticated connection of a device (online from the first until the last is
   * released). Returns the release function, which is idempotent.
   */
  attach(deviceId: string, session: LiveSession): () => void {
    let set = this.#sessions.get(deviceId);
    if (!set) {
      set = new Set();
      this.#sessions.set(deviceId, set);
    }
    const first = set.size === 0;
    set.add(session);
    if (first) this.events.emit('online', { id: deviceId, protocol: session.protocol });
    return () => this.#release(deviceId, session);
  }

  #release(deviceId: string, session: LiveSession): void {
    const set = this.#sessions.get(deviceId);
    if (!set?.delete(session)) return;
    if (set.size === 0) {
      this.#sessions.delete(deviceId);
      this.events.emit('offline', { id: deviceId, protocol: session.protocol });
    }
  }

  /**
   * Synchronous from the epoch bump to the last close: see `authenticateMqtt`. `before`: the
   * device's credentials before the change.
   */
  #revoke(id: string, kinds: readonly CredentialKind[], before: DeviceCredentials = {}): void {
    this.#revocations++;
    if (kinds.includes('psk')) this.#psk?.forgetDevice(id);
    let closed = 0;
    for (const session of [...(this.#sessions.get(id) ?? [])]) {
      const hit =
        session.credential === undefined
          ? kinds.length === CREDENTIAL_KINDS.length
          : kinds.includes(session.credential);
      if (!hit) continue;
      this.#release(id, session);
      closed++;
      try {
        session.close();
      } catch {
        // The connection is already gone; it is released either way.
      }
    }
    const revoked: DeviceCredentials = {};
    for (const kind of kinds) {
      if (before[kind]) Object.assign(revoked, { [kind]: before[kind] });
    }
    this.#onRevoke?.(id, kinds, revoked);
    this.events.emit('revoked', { id, kinds, sessionsClosed: closed });
  }

  #view(record: DeviceRecord, credentials: DeviceCredentials): DeviceView {
    return {
      id: record.id,
      protocol: record.protocol,
      tags: record.tags,
      metadata: record.metadata,
      credentials: summarizeCredentials(credentials),
      online: this.isOnline(record.id),
      createdAt: record.createdAt,
      updatedAt: record.updatedAt,
    };
  }
}

function checkId(id: unknown): void {
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
    throw invalid(
      'id',
      'must be 1 to 128 characters of A-Z a-z 0-9 . _ : @ ~ = - starting with a letter or digit',
    );
  }
}

function checkTags(tags: readonly unknown[]): string[] {
  if (!Array.isArray(tags) || tags.length > MAX_TAGS) {
    throw invalid('tags', `must be an array of at most ${MAX_TAGS} tags`);
  }
  tags.forEach((tag, i) => {
    if (typeof tag !== 'string' || !TAG_PATTERN.test(tag)) {
      throw invalid(
        `tags.${i}`,
        'must be 1 to 64 characters, without commas or control characters',
      );
    }
  });
  return tags as string[];
}

function checkMetadata(metadata: unknown): Record<string, unknown> {
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw invalid('metadata', 'must be a JSON object');
  }
  if (Buffer.byteLength(JSON.stringify(metadata)) > MAX_METADATA_BYTES) {
    throw invalid('metadata', `must be at most ${MAX_METADATA_BYTES} bytes of JSON`);
  }
  return metadata as Record<string, unknown>;
}

function notFound(id: string): HubError {
  return new HubError('TANDEM_ERR_DEVICE_NOT_FOUND', `no device ${id}`);
}

function conflict(err: unknown): unknown {
  if (!(err instanceof StoreConflictError)) return err;
  return err.message.startsWith('a device with this id')
    ? new HubError('TANDEM_ERR_DEVICE_EXISTS', err.message, 'id')
    : new HubError('TANDEM_ERR_CREDENTIAL_CONFLICT', err.message, credentialField(err.message));
}

/** `another device already has this psk identity` → `credentials.psk.identity`. */
function credentialField(message: string): string | undefined {
  const m = /this (mqtt|psk|rpk|x509) (\w+(?: \w+)?)$/.exec(message);
  if (!m) return undefined;
  const column: Record<string, string> = {
    username: 'username',
    identity: 'identity',
    'public key': 'publicKey',
    subject: 'certificate',
  };
  return `credentials.${m[1]}.${column[m[2]!] ?? m[2]}`;
}
