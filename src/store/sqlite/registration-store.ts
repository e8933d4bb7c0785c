import type Database from 'better-sqlite3';
import type { Lwm2mVersion, Registration } from '../../lwm2m/server/registration.js';
import {
  MemoryRegistrationStore,
  RegistrationConflictError,
  type RegistrationPatch,
  type RegistrationUpdate,
  type StoredObservation,
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

type SqlValue = string | number | Buffer | null;

/** The tables of one LwM2M server's registrations and observations. */
export interface RegistrationTables {
  readonly registrations: string;
  readonly observations: string;
}

/** The LwM2M server on CoAP (the default). */
export const COAP_TABLES: RegistrationTables = {
  registrations: 'lwm2m_registrations',
  observations: 'lwm2m_observations',
};

/** The LwM2M server of managed MQTT devices (docs/lwm2m-over-mqtt.md). */
export const MQTT_TABLES: RegistrationTables = {
  registrations: 'lwm2m_mqtt_registrations',
  observations: 'lwm2m_mqtt_observations',
};

interface ObservationRow {
  id: string;
  token: string;
  registration_id: string;
  endpoint: string;
  paths: string;
  composite: number;
  format: number;
  created_at: number;
}

/** How a registration fills each column, in table order. */
const COLUMN_VALUES: Record<keyof RegistrationRow, (r: Registration) => SqlValue> = {
  id: (r) => r.id,
  endpoint: (r) => r.endpoint,
  lwm2m_version: (r) => r.lwm2mVersion,
  lifetime: (r) => r.lifetime,
  binding: (r) => r.binding,
  queue_mode: (r) => (r.queueMode ? 1 : 0),
  sms_number: (r) => r.smsNumber ?? null,
  peer_key: (r) => r.peer.key,
  peer_address: (r) => r.peer.address,
  peer_port: (r) => r.peer.port,
  identity_kind: (r) => r.peer.identity?.kind ?? null,
  identity_name: ({ peer: { identity: i } }) =>
    i?.kind === 'psk' ? i.identity : i?.kind === 'x509' ? i.subject : null,
  identity_der: ({ peer: { identity: i } }) =>
    i?.kind === 'rpk'
      ? Buffer.from(i.publicKey)
      : i?.kind === 'x509'
        ? Buffer.from(i.certificate)
        : null,
  root_path: (r) => r.rootPath,
  object_links: (r) => JSON.stringify(r.objectLinks),
  object_versions: (r) => JSON.stringify(r.objectVersions),
  content_formats: (r) => JSON.stringify(r.supportedContentFormats),
  additional_params: (r) => JSON.stringify(r.additionalParams),
  preferred_content_format: (r) => r.preferredContentFormat ?? null,
  registered_at: (r) => r.registeredAt,
  last_update_at: (r) => r.lastUpdateAt,
  expires_at: (r) => r.expiresAt,
};

const COLUMNS = Object.keys(COLUMN_VALUES) as (keyof RegistrationRow)[];

/** The columns that hold each field an Update may change. */
const PATCH_COLUMNS: Record<keyof RegistrationPatch, readonly (keyof RegistrationRow)[]> = {
  lifetime: ['lifetime'],
  binding: ['binding'],
  queueMode: ['queue_mode'],
  smsNumber: ['sms_number'],
  peer: ['peer_key', 'peer_address', 'peer_port', 'identity_kind', 'identity_name', 'identity_der'],
  rootPath: ['root_path'],
  objectLinks: ['object_links'],
  objectVersions: ['object_versions'],
  supportedContentFormats: ['content_formats'],
  preferredContentFormat: ['preferred_content_format'],
  lastUpdateAt: ['last_update_at'],
  expiresAt: ['expires_at'],
};

/**
 * LwM2M registrations in the embedded store, so that a device stays registered across a restart
 * (or a crash) of Tandem: its next Update with its registration ID is answered 2.04, and the
 * server reaches it at the address it last spoke from. The process owns the database file, so
 * the registrations are also kept in memory (loaded when the store opens; the memory store's
 * rules and reads serve): reads are map look-ups, and each change is written first, in one
 * synchronous statement (a transaction for a Register that replaces one) of the columns it
 * changes. The observations of the registrations live beside them (`lwm2m_observations`), read
 * at open and written through the same way; removing a registration removes them in the same
 * transaction. The managed MQTT devices' server has the same in tables of its own (`MQTT_TABLES`).
 */
export class SqliteRegistrationStore extends MemoryRegistrationStore {
  readonly #db: Database.Database;
  readonly #tables: RegistrationTables;
  readonly #q;
  /** UPDATE statements by the set of patched fields. */
  readonly #updates = new Map<string, Database.Statement>();
  readonly #replace: (old: Registration, registration: Registration) => void;
  readonly #remove: (id: string) => void;

  /** `tables`: the CoAP server's (default), or `MQTT_TABLES` for the managed MQTT devices. */
  constructor(db: Database.Database, tables: RegistrationTables = COAP_TABLES) {
    super();
    this.#db = db;
    this.#tables = tables;
    const { registrations: r, observations: o } = tables;
    this.#q = {
      all: db.prepare(`SELECT ${COLUMNS.join(', ')} FROM ${r}`),
      insert: db.prepare(
        `INSERT INTO ${r} (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((c) => `@${c}`).join(', ')})`,
      ),
      remove: db.prepare(`DELETE FROM ${r} WHERE id = ?`),
      allObservations: db.prepare(
        `SELECT id, token, registration_id, endpoint, paths, composite, format, created_at FROM ${o}`,
      ),
      putObservation: db.prepare(
        `INSERT INTO ${o} (id, token, registration_id, endpoint, paths, composite, format, created_at)
         VALUES (@id, @token, @registration_id, @endpoint, @paths, @composite, @format, @created_at)
         ON CONFLICT (id) DO UPDATE SET token = excluded.token, registration_id = excluded.registration_id,
           endpoint = excluded.endpoint, paths = excluded.paths, composite = excluded.composite,
           format = excluded.format, created_at = excluded.created_at`,
      ),
      removeObservation: db.prepare(`DELETE FROM ${o} WHERE id = ?`),
      // The foreign key cascades too, but only while `PRAGMA foreign_keys` is on.
      removeObservationsOf: db.prepare(`DELETE FROM ${o} WHERE registration_id = ?`),
    };
    const q = this.#q;
    this.#replace = db.transaction((old: Registration, registration: Registration) => {
      q.removeObservationsOf.run(old.id);
      q.remove.run(old.id);
      q.insert.run(params(registration));
    });
    this.#remove = db.transaction((id: string) => {
      q.removeObservationsOf.run(id);
      q.remove.run(id);
    });
    // The memory store's methods are synchronous under their promises: the rows are in when
    // this returns.
    for (const row of q.all.all() as RegistrationRow[]) void super.add(fromRow(row));
    for (const row of q.allObservations.all() as ObservationRow[]) {
      void super.addObservation(observationFromRow(row));
    }
  }

  override async add(registration: Registration): Promise<Registration | undefined> {
    const taken = await this.getById(registration.id);
    if (taken && taken.endpoint !== registration.endpoint) {
      throw new RegistrationConflictError(registration.id);
    }
    // LwM2M-TS-Core 1.1 §6.2.1: a new Register of an endpoint name replaces its registration.
    const old = await this.getByEndpoint(registration.endpoint);
    if (old) this.#replace(old, registration);
    else this.#q.insert.run(params(registration));
    return super.add(registration);
  }

  override async update(
    id: string,
    patch: RegistrationPatch,
  ): Promise<RegistrationUpdate | undefined> {
    const previous = await this.getById(id);
    if (!previous) return undefined;
    const fields = (Object.keys(patch) as (keyof RegistrationPatch)[]).sort();
    if (fields.length > 0) {
      const columns = ['id' as const, ...fields.flatMap((f) => PATCH_COLUMNS[f])];
      this.#updateStatement(fields).run(params({ ...previous, ...patch }, columns));
    }
    return super.update(id, patch);
  }

  override async remove(id: string): Promise<Registration | undefined> {
    this.#remove(id);
    return super.remove(id);
  }

  override async addObservation(observation: StoredObservation): Promise<boolean> {
    if (!(await this.getById(observation.registrationId))) return false;
    this.#q.putObservation.run({
      id: observation.id,
      token: observation.token,
      registration_id: observation.registrationId,
      endpoint: observation.endpoint,
      paths: JSON.stringify(observation.paths),
      composite: observation.composite ? 1 : 0,
      format: observation.format,
      created_at: observation.createdAt,
    });
    return super.addObservation(observation);
  }

  override async removeObservation(id: string): Promise<StoredObservation | undefined> {
    this.#q.removeObservation.run(id);
    return super.removeObservation(id);
  }

  #updateStatement(fields: readonly (keyof RegistrationPatch)[]): Database.Statement {
    const key = fields.join(',');
    let statement = this.#updates.get(key);
    if (!statement) {
      const set = fields.flatMap((f) => PATCH_COLUMNS[f].map((c) => `${c} = @${c}`));
      statement = this.#db.prepare(
        `UPDATE ${this.#tables.registrations} SET ${set.join(', ')} WHERE id = @id`,
      );
      this.#updates.set(key, statement);
    }
    return statement;
  }
}

/** The values of `columns` for a registration, as named statement parameters. */
function params(r: Registration, columns: readonly (keyof RegistrationRow)[] = COLUMNS) {
  const out: Record<string, SqlValue> = {};
  for (const c of columns) out[c] = COLUMN_VALUES[c](r);
  return out;
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

function observationFromRow(row: ObservationRow): StoredObservation {
  return {
    id: row.id,
    token: row.token,
    registrationId: row.registration_id,
    endpoint: row.endpoint,
    paths: JSON.parse(row.paths),
    composite: row.composite === 1,
    format: row.format,
    createdAt: row.created_at,
  };
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
