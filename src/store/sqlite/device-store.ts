import type Database from 'better-sqlite3';
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

interface DeviceRow {
  id: string;
  protocol: 'lwm2m' | 'mqtt';
  metadata: string;
  created_at: number;
  updated_at: number;
}

const MAX_PAGE = 1000;

export class SqliteDeviceStore implements DeviceStore {
  readonly #db: Database.Database;
  readonly #now: () => number;
  readonly #q;

  constructor(db: Database.Database, now: () => number = Date.now) {
    this.#db = db;
    this.#now = now;
    this.#q = {
      insert: db.prepare(
        'INSERT INTO devices (id, protocol, metadata, created_at, updated_at) VALUES (?, ?, ?, ?, ?)',
      ),
      get: db.prepare('SELECT * FROM devices WHERE id = ?'),
      tags: db.prepare('SELECT tag FROM device_tags WHERE device_id = ? ORDER BY position'),
      insertTag: db.prepare('INSERT INTO device_tags (device_id, tag, position) VALUES (?, ?, ?)'),
      deleteTags: db.prepare('DELETE FROM device_tags WHERE device_id = ?'),
      touch: db.prepare('UPDATE devices SET metadata = ?, updated_at = ? WHERE id = ?'),
      delete: db.prepare('DELETE FROM devices WHERE id = ?'),
      count: db.prepare('SELECT COUNT(*) AS n FROM devices'),
      mqtt: db.prepare('SELECT username, password_hash FROM credentials_mqtt WHERE device_id = ?'),
      psk: db.prepare('SELECT identity, key FROM credentials_psk WHERE device_id = ?'),
      rpk: db.prepare('SELECT public_key FROM credentials_rpk WHERE device_id = ?'),
      x509: db.prepare('SELECT certificate, subject FROM credentials_x509 WHERE device_id = ?'),
      byUsername: db.prepare(
        'SELECT device_id, password_hash FROM credentials_mqtt WHERE username = ?',
      ),
      bySubject: db.prepare('SELECT device_id FROM credentials_x509 WHERE subject = ?'),
      byPublicKey: db.prepare('SELECT device_id FROM credentials_rpk WHERE public_key = ?'),
      allPsk: db.prepare('SELECT device_id, identity, key FROM credentials_psk'),
      byIdentity: db.prepare('SELECT device_id, key FROM credentials_psk WHERE identity = ?'),
      // Upserts on the device only: a UNIQUE identity taken by another device must fail, never
      // replace that device's row (as INSERT OR REPLACE would).
      setMqtt: db.prepare(
        'INSERT INTO credentials_mqtt (device_id, username, password_hash) VALUES (?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET username = excluded.username, password_hash = excluded.password_hash',
      ),
      setPsk: db.prepare(
        'INSERT INTO credentials_psk (device_id, identity, key) VALUES (?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET identity = excluded.identity, key = excluded.key',
      ),
      setRpk: db.prepare(
        'INSERT INTO credentials_rpk (device_id, public_key) VALUES (?, ?) ON CONFLICT (device_id) DO UPDATE SET public_key = excluded.public_key',
      ),
      setX509: db.prepare(
        'INSERT INTO credentials_x509 (device_id, certificate, subject) VALUES (?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET certificate = excluded.certificate, subject = excluded.subject',
      ),
      unset: {
        mqtt: db.prepare('DELETE FROM credentials_mqtt WHERE device_id = ?'),
        psk: db.prepare('DELETE FROM credentials_psk WHERE device_id = ?'),
        rpk: db.prepare('DELETE FROM credentials_rpk WHERE device_id = ?'),
        x509: db.prepare('DELETE FROM credentials_x509 WHERE device_id = ?'),
      },
    };
  }

  async create(device: NewDevice): Promise<DeviceRecord> {
    const now = this.#now();
    this.#conflicts(() =>
      this.#db.transaction(() => {
        this.#q.insert.run(
          device.id,
          device.protocol,
          JSON.stringify(device.metadata ?? {}),
          now,
          now,
        );
        this.#setTags(device.id, device.tags ?? []);
        this.#setCredentials(device.id, device.credentials ?? {});
      })(),
    );
    return this.#read(device.id)!;
  }

  async get(id: string): Promise<DeviceRecord | undefined> {
    return this.#read(id);
  }

  async list(query: DeviceQuery = {}): Promise<DeviceRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (query.protocol) {
      where.push('d.protocol = ?');
      args.push(query.protocol);
    }
    if (query.tag !== undefined) {
      where.push('EXISTS (SELECT 1 FROM device_tags t WHERE t.device_id = d.id AND t.tag = ?)');
      args.push(query.tag);
    }
    if (query.after !== undefined) {
      where.push('d.id > ?');
      args.push(query.after);
    }
    const limit = Math.min(Math.max(query.limit ?? 100, 1), MAX_PAGE);
    const sql = `SELECT d.* FROM devices d ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY d.id LIMIT ${limit}`;
    const rows = this.#db.prepare(sql).all(...args) as DeviceRow[];
    return rows.map((r) => this.#toRecord(r));
  }

  async update(id: string, patch: DevicePatch): Promise<DeviceRecord | undefined> {
    const existing = this.#q.get.get(id) as DeviceRow | undefined;
    if (!existing) return undefined;
    this.#conflicts(() =>
      this.#db.transaction(() => {
        const metadata = patch.metadata ? JSON.stringify(patch.metadata) : existing.metadata;
        this.#q.touch.run(metadata, this.#now(), id);
        if (patch.tags) this.#setTags(id, patch.tags);
        if (patch.credentials) this.#setCredentials(id, patch.credentials);
      })(),
    );
    return this.#read(id);
  }

  async delete(id: string): Promise<boolean> {
    // Credentials and tags go with the device (ON DELETE CASCADE).
    return this.#q.delete.run(id).changes > 0;
  }

  async credentials(id: string): Promise<DeviceCredentials | undefined> {
    if (!this.#q.get.get(id)) return undefined;
    const out: DeviceCredentials = {};
    const mqtt = this.#q.mqtt.get(id) as { username: string; password_hash: string } | undefined;
    if (mqtt) out.mqtt = { username: mqtt.username, passwordHash: mqtt.password_hash };
    const psk = this.#q.psk.get(id) as { identity: string; key: Buffer } | undefined;
    if (psk) out.psk = { identity: psk.identity, key: psk.key };
    const rpk = this.#q.rpk.get(id) as { public_key: Buffer } | undefined;
    if (rpk) out.rpk = { publicKey: rpk.public_key };
    const x509 = this.#q.x509.get(id) as { certificate: string; subject: string } | undefined;
    if (x509) out.x509 = { certificate: x509.certificate, subject: x509.subject };
    return out;
  }

  async findByMqttUsername(username: string) {
    const row = this.#q.byUsername.get(username) as
      | { device_id: string; password_hash: string }
      | undefined;
    return row && { deviceId: row.device_id, passwordHash: row.password_hash };
  }

  async findByPskIdentity(identity: string) {
    const row = this.#q.byIdentity.get(identity) as { device_id: string; key: Buffer } | undefined;
    return row && { deviceId: row.device_id, key: row.key };
  }

  async findByX509Subject(subject: string) {
    const row = this.#q.bySubject.get(subject) as { device_id: string } | undefined;
    return row && { deviceId: row.device_id };
  }

  async findByRawPublicKey(publicKey: Buffer) {
    const row = this.#q.byPublicKey.get(publicKey) as { device_id: string } | undefined;
    return row && { deviceId: row.device_id };
  }

  async pskCredentials() {
    const rows = this.#q.allPsk.all() as { device_id: string; identity: string; key: Buffer }[];
    return rows.map((r) => ({ deviceId: r.device_id, identity: r.identity, key: r.key }));
  }

  async count(): Promise<number> {
    return (this.#q.count.get() as { n: number }).n;
  }

  #read(id: string): DeviceRecord | undefined {
    const row = this.#q.get.get(id) as DeviceRow | undefined;
    return row && this.#toRecord(row);
  }

  #toRecord(row: DeviceRow): DeviceRecord {
    const tags = (this.#q.tags.all(row.id) as { tag: string }[]).map((t) => t.tag);
    return {
      id: row.id,
      protocol: row.protocol,
      tags,
      metadata: JSON.parse(row.metadata) as Record<string, unknown>,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  #setTags(id: string, tags: readonly string[]): void {
    this.#q.deleteTags.run(id);
    let position = 0;
    for (const tag of new Set(tags)) this.#q.insertTag.run(id, tag, position++);
  }

  #setCredentials(id: string, creds: DevicePatch['credentials'] & object): void {
    if (creds.mqtt === null) this.#q.unset.mqtt.run(id);
    else if (creds.mqtt) this.#q.setMqtt.run(id, creds.mqtt.username, creds.mqtt.passwordHash);
    if (creds.psk === null) this.#q.unset.psk.run(id);
    else if (creds.psk) this.#q.setPsk.run(id, creds.psk.identity, creds.psk.key);
    if (creds.rpk === null) this.#q.unset.rpk.run(id);
    else if (creds.rpk) this.#q.setRpk.run(id, creds.rpk.publicKey);
    if (creds.x509 === null) this.#q.unset.x509.run(id);
    else if (creds.x509) this.#q.setX509.run(id, creds.x509.certificate, creds.x509.subject);
  }

  /** SQLite's UNIQUE and PRIMARY KEY failures become the port's StoreConflictError. */
  #conflicts(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      if (
        code.startsWith('SQLITE_CONSTRAINT_PRIMARYKEY') ||
        code.startsWith('SQLITE_CONSTRAINT_UNIQUE')
      ) {
        throw new StoreConflictError(conflictMessage((err as Error).message));
      }
      throw err;
    }
  }
}

/** SQLite names the failed constraint's column as `table.column` in its message. */
function conflictMessage(sqliteMessage: string): string {
  const column = /: (\w+)\.(\w+)/.exec(sqliteMessage);
  return deviceConflictMessage(column?.[1], column?.[2]);
}
