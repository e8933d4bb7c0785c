import { type ProfileRecord, type ProfileStore, StoreConflictError } from '../ports.js';
import { type ProfileRow, profileFromRow } from '../rows.js';
import type { PgQuery } from './query.js';

/** SQLSTATE 23503: a foreign key refused the change. */
const FOREIGN_KEY_VIOLATION = '23503';

/** Device profiles and which device has which (tables `profiles`, `device_profiles`). */
export class PgProfileStore implements ProfileStore {
  readonly #query: PgQuery;
  readonly #now: () => number;

  constructor(query: PgQuery, now: () => number) {
    this.#query = query;
    this.#now = now;
  }

  async put(p: {
    id: string;
    description: string;
    mappings: ProfileRecord['mappings'];
  }): Promise<{ profile: ProfileRecord; created: boolean }> {
    const now = this.#now();
    // One statement, so that two nodes putting the same id cannot both create it; xmax is 0
    // on a row this statement inserted.
    const { rows } = await this.#query<ProfileRow & { created: boolean }>(
      `INSERT INTO profiles (id, description, mappings, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
       ON CONFLICT (id) DO UPDATE SET description = excluded.description, mappings = excluded.mappings, updated_at = excluded.updated_at
       RETURNING *, (xmax = 0) AS created`,
      [p.id, p.description, JSON.stringify(p.mappings), now],
    );
    const row = rows[0]!;
    return { profile: profileFromRow(row), created: row.created };
  }

  async get(id: string): Promise<ProfileRecord | undefined> {
    const { rows } = await this.#query<ProfileRow>('SELECT * FROM profiles WHERE id = $1', [id]);
    return rows[0] && profileFromRow(rows[0]);
  }

  async list(): Promise<ProfileRecord[]> {
    const { rows } = await this.#query<ProfileRow>('SELECT * FROM profiles ORDER BY id');
    return rows.map(profileFromRow);
  }

  async delete(id: string): Promise<boolean> {
    try {
      const { rowCount } = await this.#query('DELETE FROM profiles WHERE id = $1', [id]);
      return (rowCount ?? 0) > 0;
    } catch (err) {
      if ((err as { code?: string }).code !== FOREIGN_KEY_VIOLATION) throw err;
      const { rows } = await this.#query<{ n: number }>(
        'SELECT COUNT(*) AS n FROM device_profiles WHERE profile_id = $1',
        [id],
      );
      throw new StoreConflictError(`profile ${id} is used by ${rows[0]!.n} device(s)`);
    }
  }

  async assign(deviceId: string, profileId: string | null): Promise<void> {
    if (profileId === null) {
      await this.#query('DELETE FROM device_profiles WHERE device_id = $1', [deviceId]);
      return;
    }
    try {
      await this.#query(
        'INSERT INTO device_profiles (device_id, profile_id) VALUES ($1, $2) ON CONFLICT (device_id) DO UPDATE SET profile_id = excluded.profile_id',
        [deviceId, profileId],
      );
    } catch (err) {
      if ((err as { code?: string }).code === FOREIGN_KEY_VIOLATION) {
        throw new StoreConflictError(`no device ${deviceId} or no profile ${profileId}`);
      }
      throw err;
    }
  }

  async profileOf(deviceId: string): Promise<string | undefined> {
    const { rows } = await this.#query<{ profile_id: string }>(
      'SELECT profile_id FROM device_profiles WHERE device_id = $1',
      [deviceId],
    );
    return rows[0]?.profile_id;
  }
}
