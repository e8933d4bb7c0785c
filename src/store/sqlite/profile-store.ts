import type Database from 'better-sqlite3';
import { type ProfileRecord, type ProfileStore, StoreConflictError } from '../ports.js';
import { type ProfileRow, profileFromRow } from '../rows.js';

/** Device profiles and which device has which (tables `profiles`, `device_profiles`, migration 9). */
export class SqliteProfileStore implements ProfileStore {
  readonly #now: () => number;
  readonly #q;

  constructor(db: Database.Database, now: () => number = Date.now) {
    this.#now = now;
    this.#q = {
      get: db.prepare('SELECT * FROM profiles WHERE id = ?'),
      list: db.prepare('SELECT * FROM profiles ORDER BY id'),
      insert: db.prepare(
        'INSERT INTO profiles (id, description, mappings, created_at, updated_at) VALUES (?, ?, ?, ?, ?)',
      ),
      replace: db.prepare(
        'UPDATE profiles SET description = ?, mappings = ?, updated_at = ? WHERE id = ?',
      ),
      delete: db.prepare('DELETE FROM profiles WHERE id = ?'),
      users: db.prepare('SELECT COUNT(*) AS n FROM device_profiles WHERE profile_id = ?'),
      assign: db.prepare(
        'INSERT INTO device_profiles (device_id, profile_id) VALUES (?, ?) ON CONFLICT (device_id) DO UPDATE SET profile_id = excluded.profile_id',
      ),
      unassign: db.prepare('DELETE FROM device_profiles WHERE device_id = ?'),
      profileOf: db.prepare('SELECT profile_id FROM device_profiles WHERE device_id = ?'),
    };
  }

  async put(p: {
    id: string;
    description: string;
    mappings: ProfileRecord['mappings'];
  }): Promise<{ profile: ProfileRecord; created: boolean }> {
    const now = this.#now();
    const mappings = JSON.stringify(p.mappings);
    const created =
      this.#q.replace.run(p.description, mappings, now, p.id).changes === 0 &&
      this.#q.insert.run(p.id, p.description, mappings, now, now).changes === 1;
    return { profile: profileFromRow(this.#q.get.get(p.id) as ProfileRow), created };
  }

  async get(id: string): Promise<ProfileRecord | undefined> {
    const row = this.#q.get.get(id) as ProfileRow | undefined;
    return row && profileFromRow(row);
  }

  async list(): Promise<ProfileRecord[]> {
    return (this.#q.list.all() as ProfileRow[]).map(profileFromRow);
  }

  async delete(id: string): Promise<boolean> {
    const { n } = this.#q.users.get(id) as { n: number };
    if (n > 0) throw new StoreConflictError(`profile ${id} is used by ${n} device(s)`);
    return this.#q.delete.run(id).changes > 0;
  }

  async assign(deviceId: string, profileId: string | null): Promise<void> {
    if (profileId === null) {
      this.#q.unassign.run(deviceId);
      return;
    }
    try {
      this.#q.assign.run(deviceId, profileId);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
        throw new StoreConflictError(`no device ${deviceId} or no profile ${profileId}`);
      }
      throw err;
    }
  }

  async profileOf(deviceId: string): Promise<string | undefined> {
    return (this.#q.profileOf.get(deviceId) as { profile_id: string } | undefined)?.profile_id;
  }
}
