import type { PoolClient } from 'pg';
import { deviceConflictMessage } from '../device-conflict.js';
import {
  type DeviceCredentials,
  type DevicePatch,
  type DeviceQuery,
  type DeviceRecord,
  type DeviceStore,
  type NewDevice,
  StoreConflictError,
} from '../ports.js';
import { isUniqueViolation, type PgQuery, type PgTransact } from './query.js';

interface DeviceRow {
  id: string;
  protocol: 'lwm2m' | 'mqtt';
  metadata: string;
  created_at: number;
  updated_at: number;
  /** Tags in their position order, aggregated by the query. */
  tags: string[];
}

const MAX_PAGE = 1000;
const SELECT_DEVICE = `SELECT d.*, COALESCE(
    (SELECT array_agg(t.tag ORDER BY t.position) FROM device_tags t WHERE t.device_id = d.id),
    '{}') AS tags
  FROM devices d`;

/** Credential kinds: table, then the columns written after device_id. */
const CREDENTIAL_TABLES = {
  mqtt: ['credentials_mqtt', ['username', 'password_hash']],
  psk: ['credentials_psk', ['identity', 'key']],
  rpk: ['credentials_rpk', ['public_key']],
  x509: ['credentials_x509', ['certificate', 'subject']],
} as const;

type CredentialPatch = DevicePatch['credentials'] & object;

function credentialValues(creds: DeviceCredentials, kind: keyof DeviceCredentials): unknown[] {
  switch (kind) {
    case 'mqtt':
      return [creds.mqtt!.username, creds.mqtt!.passwordHash];
    case 'psk':
      return [creds.psk!.identity, creds.psk!.key];
    case 'rpk':
      return [creds.rpk!.publicKey];
    case 'x509':
      return [creds.x509!.certificate, creds.x509!.subject];
  }
}

/** Devices and their credentials in Postgres (the tables of migration 1). */
export class PgDeviceStore implements DeviceStore {
  readonly #query: PgQuery;
  readonly #transact: PgTransact;
  readonly #now: () => number;

  constructor(query: PgQuery, transact: PgTransact, now: () => number) {
    this.#query = query;
    this.#transact = transact;
    this.#now = now;
  }

  async create(device: NewDevice): Promise<DeviceRecord> {
    const now = this.#now();
    await this.#conflicts(() =>
      this.#transact(async (c) => {
        await c.query(
          'INSERT INTO devices (id, protocol, metadata, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)',
          [device.id, device.protocol, JSON.stringify(device.metadata ?? {}), now, now],
        );
        await setTags(c, device.id, device.tags ?? []);
        await setCredentials(c, device.id, device.credentials ?? {});
      }),
    );
    return (await this.get(device.id))!;
  }

  async get(id: string): Promise<DeviceRecord | undefined> {
    const { rows } = await this.#query<DeviceRow>(`${SELECT_DEVICE} WHERE d.id = $1`, [id]);
    return rows[0] && toRecord(rows[0]);
  }

  async list(query: DeviceQuery = {}): Promise<DeviceRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (query.protocol) {
      args.push(query.protocol);
      where.push(`d.protocol = $${args.length}`);
    }
    if (query.tag !== undefined) {
      args.push(query.tag);
      where.push(
        `EXISTS (SELECT 1 FROM device_tags t WHERE t.device_id = d.id AND t.tag = $${args.length})`,
      );
    }
    if (query.after !== undefined) {
      args.push(query.after);
      where.push(`d.id > $${args.length}`);
    }
    const limit = Math.min(Math.max(query.limit ?? 100, 1), MAX_PAGE);
    const { rows } = await this.#query<DeviceRow>(
      `${SELECT_DEVICE} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY d.id LIMIT ${limit}`,
      args,
    );
    return rows.map(toRecord);
  }

  async update(id: string, patch: DevicePatch): Promise<DeviceRecord | undefined> {
    const found = await this.#conflicts(() =>
      this.#transact(async (c) => {
        const touched = await c.query(
          'UPDATE devices SET metadata = COALESCE($1, metadata), updated_at = $2 WHERE id = $3',
          [patch.metadata ? JSON.stringify(patch.metadata) : null, this.#now(), id],
        );
        if (touched.rowCount === 0) return false;
        if (patch.tags) await setTags(c, id, patch.tags);
        if (patch.credentials) await setCredentials(c, id, patch.credentials);
        return true;
      }),
    );
    return found ? this.get(id) : undefined;
  }

  async delete(id: string): Promise<boolean> {
    // Credentials and tags go with the device (ON DELETE CASCADE).
    const { rowCount } = await this.#query('DELETE FROM devices WHERE id = $1', [id]);
    return (rowCount ?? 0) > 0;
  }

  async credentials(id: string): Promise<DeviceCredentials | undefined> {
    const { rows } = await this.#query<{
      id: string;
      username: string | null;
      password_hash: string | null;
      identity: string | null;
      key: Buffer | null;
      public_key: Buffer | null;
      certificate: string | null;
      subject: string | null;
    }>(
      `SELECT d.id, m.username, m.password_hash, p.identity, p.key, r.public_key, x.certificate, x.subject
       FROM devices d
       LEFT JOIN credentials_mqtt m ON m.device_id = d.id
       LEFT JOIN credentials_psk p ON p.device_id = d.id
       LEFT JOIN credentials_rpk r ON r.device_id = d.id
       LEFT JOIN credentials_x509 x ON x.device_id = d.id
       WHERE d.id = $1`,
      [id],
    );
    const row = rows[0];
    if (!row) return undefined;
    const out: DeviceCredentials = {};
    if (row.username !== null) {
      out.mqtt = { username: row.username, passwordHash: row.password_hash! };
    }
    if (row.identity !== null) out.psk = { identity: row.identity, key: row.key! };
    if (row.public_key !== null) out.rpk = { publicKey: row.public_key };
    if (row.certificate !== null) {
      out.x509 = { certificate: row.certificate, subject: row.subject! };
    }
    return out;
  }

  async findByMqttUsername(username: string) {
    const { rows } = await this.#query<{ device_id: string; password_hash: string }>(
      'SELECT device_id, password_hash FROM credentials_mqtt WHERE username = $1',
      [username],
    );
    return rows[0] && { deviceId: rows[0].device_id, passwordHash: rows[0].password_hash };
  }

  async findByPskIdentity(identity: string) {
    const { rows } = await this.#query<{ device_id: string; key: Buffer }>(
      'SELECT device_id, key FROM credentials_psk WHERE identity = $1',
      [identity],
    );
    return rows[0] && { deviceId: rows[0].device_id, key: rows[0].key };
  }

  async findByX509Subject(subject: string) {
    const { rows } = await this.#query<{ device_id: string }>(
      'SELECT device_id FROM credentials_x509 WHERE subject = $1',
      [subject],
    );
    return rows[0] && { deviceId: rows[0].device_id };
  }

  async findByRawPublicKey(publicKey: Buffer) {
    const { rows } = await this.#query<{ device_id: string }>(
      'SELECT device_id FROM credentials_rpk WHERE public_key = $1',
      [publicKey],
    );
    return rows[0] && { deviceId: rows[0].device_id };
  }

  async pskCredentials() {
    const { rows } = await this.#query<{ device_id: string; identity: string; key: Buffer }>(
      'SELECT device_id, identity, key FROM credentials_psk ORDER BY device_id',
    );
    return rows.map((r) => ({ deviceId: r.device_id, identity: r.identity, key: r.key }));
  }

  async count(): Promise<number> {
    const { rows } = await this.#query<{ n: number }>('SELECT COUNT(*) AS n FROM devices');
    return rows[0]!.n;
  }

  /** Postgres' unique violations become the port's StoreConflictError. */
  async #conflicts<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      // detail: `Key (identity)=(id-a) already exists.`
      const column = /^Key \((\w+)\)/.exec(err.detail ?? '')?.[1];
      throw new StoreConflictError(
        deviceConflictMessage(err.table, err.table === 'devices' ? 'id' : column),
      );
    }
  }
}

function toRecord(row: DeviceRow): DeviceRecord {
  return {
    id: row.id,
    protocol: row.protocol,
    tags: row.tags,
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

async function setTags(c: PoolClient, id: string, tags: readonly string[]): Promise<void> {
  await c.query('DELETE FROM device_tags WHERE device_id = $1', [id]);
  const unique = [...new Set(tags)];
  if (unique.length === 0) return;
  await c.query(
    'INSERT INTO device_tags (device_id, tag, position) SELECT $1, tag, position - 1 FROM unnest($2::text[]) WITH ORDINALITY AS t (tag, position)',
    [id, unique],
  );
}

async function setCredentials(c: PoolClient, id: string, creds: CredentialPatch): Promise<void> {
  for (const kind of Object.keys(CREDENTIAL_TABLES) as (keyof DeviceCredentials)[]) {
    const [table, columns] = CREDENTIAL_TABLES[kind];
    const value = creds[kind];
    if (value === null) await c.query(`DELETE FROM ${table} WHERE device_id = $1`, [id]);
    else if (value) {
      // Upserts on the device only: a UNIQUE identity taken by another device must fail,
      // never take over that device's row.
      const placeholders = columns.map((_, i) => `$${i + 2}`).join(', ');
      const updates = columns.map((col) => `${col} = excluded.${col}`).join(', ');
      await c.query(
        `INSERT INTO ${table} (device_id, ${columns.join(', ')}) VALUES ($1, ${placeholders}) ON CONFLICT (device_id) DO UPDATE SET ${updates}`,
        [id, ...credentialValues(creds as DeviceCredentials, kind)],
      );
    }
  }
}
