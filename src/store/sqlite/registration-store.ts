import type Database from 'better-sqlite3';
import type { Lwm2mVersion, Registration } from '../../lwm2m/server/registration.js';
import {
  RegistrationConflictError,
  type RegistrationPatch,
  type RegistrationStore,
  type RegistrationUpdate,
} from '../../lwm2m/server/registration-store.js';
import type { PeerIdentity } from '../../transport/datagram.js';

interface RegistrationRow {
  id: string;
  endpoint: string;
  lwm2m_version: string;
  lifetime: number;
  binding: string;
  queue_mode: number;
  sms_number: string | null;
  peer_key: string;
  peer_address: string;
  peer_port: number;
  identity_kind: PeerIdentity['kind'] | null;
  identity_name: string | null;
  identity_der: Buffer | null;
  root_path: string;
  object_links: string;
  object_versions: string;
  content_formats: string;
  additional_params: string;
  preferred_content_format: number | null;
  registered_at: number;
  last_update_at: number;
  expires_at: number;
}

const COLUMNS = [
  'id',
  'endpoint',
  'lwm2m_version',
  'lifetime',
  'binding',
  'queue_mode',
  'sms_number',
  'peer_key',
  'peer_address',
  'peer_port',
  'identity_kind',
  'identity_name',
  'identity_der',
  'root_path',
  'object_links',
  'object_versions',
  'content_formats',
  'additional_params',
  'preferred_content_format',
  'registered_at',
  'last_update_at',
  'expires_at',
] as const;

/**
 * LwM2M registrations in the embedded store, so that a device stays registered across a restart
 * (or a crash) of Tandem: its next Update with its registration ID is answered 2.04, and the
 * server reaches it at the address it last spoke from. Every method is one or two synchronous
 * statements on an indexed column; nothing is kept in memory, so a registered device costs the
 * heap only the server's timer and peer index.
 */
export class SqliteRegistrationStore implements RegistrationStore {
  readonly #q;
  readonly #add: (registration: Registration) => Registration | undefined;
  readonly #update: (id: string, patch: RegistrationPatch) => RegistrationUpdate | undefined;

  constructor(db: Database.Database) {
    const select = `SELECT ${COLUMNS.join(', ')} FROM lwm2m_registrations`;
    this.#q = {
      byId: db.prepare(`${select} WHERE id = ?`),
      byEndpoint: db.prepare(`${select} WHERE endpoint = ?`),
      all: db.prepare(select),
      expired: db.prepare(`${select} WHERE expires_at <= ?`),
      size: db.prepare('SELECT count(*) AS n FROM lwm2m_registrations').pluck(),
      insert: db.prepare(
        `INSERT INTO lwm2m_registrations (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((c) => `@${c}`).join(', ')})`,
      ),
      replace: db.prepare(
        `UPDATE lwm2m_registrations SET ${COLUMNS.slice(1)
          .map((c) => `${c} = @${c}`)
          .join(', ')} WHERE id = @id`,
      ),
      remove: db.prepare(
        `DELETE FROM lwm2m_registrations WHERE id = ? RETURNING ${COLUMNS.join(', ')}`,
      ),
      removeIfExpired: db.prepare(
        `DELETE FROM lwm2m_registrations WHERE id = ? AND expires_at <= ? RETURNING ${COLUMNS.join(', ')}`,
      ),
    };
    const q = this.#q;
    this.#add = db.transaction((registration: Registration) => {
      const taken = q.byId.get(registration.id) as RegistrationRow | undefined;
      if (taken && taken.endpoint !== registration.endpoint) {
        throw new RegistrationConflictError(registration.id);
      }
      // LwM2M-TS-Core 1.1 §6.2.1: a new Register of an endpoint name replaces its registration.
      const old = q.byEndpoint.get(registration.endpoint) as RegistrationRow | undefined;
      if (old) q.remove.get(old.id);
      q.insert.run(toRow(registration));
      return old && fromRow(old);
    });
    this.#update = db.transaction((id: string, patch: RegistrationPatch) => {
      const row = q.byId.get(id) as RegistrationRow | undefined;
      if (!row) return undefined;
      const previous = fromRow(row);
      const current: Registration = { ...previous, ...patch };
      q.replace.run(toRow(current));
      return { previous, current };
    });
  }

  async add(registration: Registration): Promise<Registration | undefined> {
    return this.#add(registration);
  }

  async update(id: string, patch: RegistrationPatch): Promise<RegistrationUpdate | undefined> {
    return this.#update(id, patch);
  }

  async remove(id: string): Promise<Registration | undefined> {
    return this.#one(this.#q.remove.get(id));
  }

  async removeIfExpired(id: string, now: number): Promise<Registration | undefined> {
    return this.#one(this.#q.removeIfExpired.get(id, now));
  }

  async getById(id: string): Promise<Registration | undefined> {
    return this.#one(this.#q.byId.get(id));
  }

  async getByEndpoint(endpoint: string): Promise<Registration | undefined> {
    return this.#one(this.#q.byEndpoint.get(endpoint));
  }

  async all(): Promise<Registration[]> {
    return (this.#q.all.all() as RegistrationRow[]).map(fromRow);
  }

  async expired(now: number): Promise<Registration[]> {
    return (this.#q.expired.all(now) as RegistrationRow[]).map(fromRow);
  }

  async size(): Promise<number> {
    return this.#q.size.get() as number;
  }

  #one(row: unknown): Registration | undefined {
    return row === undefined ? undefined : fromRow(row as RegistrationRow);
  }
}

function toRow(r: Registration): RegistrationRow {
  const identity = r.peer.identity;
  return {
    id: r.id,
    endpoint: r.endpoint,
    lwm2m_version: r.lwm2mVersion,
    lifetime: r.lifetime,
    binding: r.binding,
    queue_mode: r.queueMode ? 1 : 0,
    sms_number: r.smsNumber ?? null,
    peer_key: r.peer.key,
    peer_address: r.peer.address,
    peer_port: r.peer.port,
    identity_kind: identity?.kind ?? null,
    identity_name:
      identity?.kind === 'psk'
        ? identity.identity
        : identity?.kind === 'x509'
          ? identity.subject
          : null,
    identity_der:
      identity?.kind === 'rpk'
        ? Buffer.from(identity.publicKey)
        : identity?.kind === 'x509'
          ? Buffer.from(identity.certificate)
          : null,
    root_path: r.rootPath,
    object_links: JSON.stringify(r.objectLinks),
    object_versions: JSON.stringify(r.objectVersions),
    content_formats: JSON.stringify(r.supportedContentFormats),
    additional_params: JSON.stringify(r.additionalParams),
    preferred_content_format: r.preferredContentFormat ?? null,
    registered_at: r.registeredAt,
    last_update_at: r.lastUpdateAt,
    expires_at: r.expiresAt,
  };
}

function identityOf(row: RegistrationRow): PeerIdentity | undefined {
  switch (row.identity_kind) {
    case 'psk':
      return { kind: 'psk', identity: row.identity_name! };
    case 'rpk':
      return { kind: 'rpk', publicKey: row.identity_der! };
    case 'x509':
      return { kind: 'x509', subject: row.identity_name!, certificate: row.identity_der! };
    default:
      return undefined;
  }
}

function fromRow(row: RegistrationRow): Registration {
  const identity = identityOf(row);
  return {
    id: row.id,
    endpoint: row.endpoint,
    lwm2mVersion: row.lwm2m_version as Lwm2mVersion,
    lifetime: row.lifetime,
    binding: row.binding,
    queueMode: row.queue_mode === 1,
    ...(row.sms_number !== null ? { smsNumber: row.sms_number } : {}),
    peer: {
      key: row.peer_key,
      address: row.peer_address,
      port: row.peer_port,
      ...(identity ? { identity } : {}),
    },
    rootPath: row.root_path,
    objectLinks: JSON.parse(row.object_links),
    objectVersions: JSON.parse(row.object_versions),
    supportedContentFormats: JSON.parse(row.content_formats),
    additionalParams: JSON.parse(row.additional_params),
    ...(row.preferred_content_format !== null
      ? { preferredContentFormat: row.preferred_content_format }
      : {}),
    registeredAt: row.registered_at,
    lastUpdateAt: row.last_update_at,
    expiresAt: row.expires_at,
  };
}
