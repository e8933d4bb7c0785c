import type { Pool, PoolClient } from 'pg';
import { type Migration, MigrationError } from '../sqlite/migrations.js';
import { transaction } from './query.js';

/**
 * The Postgres schema, as an append-only list like the SQLite one (a released migration is
 * never edited). The tables and columns mirror SQLite's so that both backends share their
 * queries where they can: times are BIGINT milliseconds, JSON is kept as TEXT exactly as
 * written (metadata key order included), ids sort by byte (COLLATE "C") as in SQLite, so that
 * keyset pagination and ordering do not depend on the server's locale.
 */
export const PG_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'devices, credentials, telemetry with rollups, api tokens, bootstrap configurations, commands, webhooks',
    sql: `
      CREATE TABLE devices (
        id TEXT COLLATE "C" PRIMARY KEY,
        protocol TEXT NOT NULL CHECK (protocol IN ('lwm2m', 'mqtt')),
        metadata TEXT NOT NULL DEFAULT '{}',
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      );
      CREATE TABLE device_tags (
        device_id TEXT COLLATE "C" NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
        tag TEXT NOT NULL,
        position INTEGER NOT NULL,
        PRIMARY KEY (tag, device_id)
      );
      CREATE INDEX device_tags_by_device ON device_tags (device_id, position);
      CREATE TABLE credentials_mqtt (
        device_id TEXT COLLATE "C" PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
        username TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL
      );
      CREATE TABLE credentials_psk (
        device_id TEXT COLLATE "C" PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
        identity TEXT NOT NULL UNIQUE,
        key BYTEA NOT NULL
      );
      CREATE TABLE credentials_rpk (
        device_id TEXT COLLATE "C" PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
        public_key BYTEA NOT NULL UNIQUE
      );
      CREATE TABLE credentials_x509 (
        device_id TEXT COLLATE "C" PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
        certificate TEXT NOT NULL,
        subject TEXT NOT NULL UNIQUE
      );
      CREATE TABLE telemetry (
        device_id TEXT COLLATE "C" NOT NULL,
        path TEXT COLLATE "C" NOT NULL,
        ts BIGINT NOT NULL,
        value TEXT NOT NULL,
        seq BIGINT GENERATED ALWAYS AS IDENTITY
      );
      CREATE INDEX telemetry_by_device_path_ts ON telemetry (device_id, path, ts);
      CREATE INDEX telemetry_by_device_ts ON telemetry (device_id, ts);
      CREATE INDEX telemetry_by_ts ON telemetry (ts);
      CREATE TABLE telemetry_rollups (
        device_id TEXT COLLATE "C" NOT NULL,
        path TEXT COLLATE "C" NOT NULL,
        resolution BIGINT NOT NULL,
        bucket BIGINT NOT NULL,
        count BIGINT NOT NULL,
        num_count BIGINT NOT NULL,
        sum DOUBLE PRECISION,
        min DOUBLE PRECISION,
        max DOUBLE PRECISION,
        last TEXT NOT NULL,
        last_ts BIGINT NOT NULL,
        UNIQUE (device_id, resolution, path, bucket)
      );
      CREATE INDEX telemetry_rollups_by_age ON telemetry_rollups (resolution, bucket);
      CREATE TABLE api_tokens (
        id TEXT COLLATE "C" PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('read-only', 'operator', 'admin')),
        description TEXT NOT NULL DEFAULT '',
        hash BYTEA NOT NULL UNIQUE,
        created_at BIGINT NOT NULL
      );
      CREATE TABLE bootstrap_configs (
        key TEXT COLLATE "C" PRIMARY KEY,
        config TEXT NOT NULL,
        updated_at BIGINT NOT NULL
      );
      CREATE TABLE commands (
        id TEXT COLLATE "C" PRIMARY KEY,
        device_id TEXT COLLATE "C" NOT NULL,
        command TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'succeeded', 'failed', 'expired', 'cancelled')),
        by_token TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        outcome TEXT
      );
      CREATE INDEX commands_by_device ON commands (device_id, created_at);
      CREATE INDEX commands_unfinished ON commands (status, created_at) WHERE status IN ('queued', 'sent');
      CREATE TABLE webhooks (
        id TEXT COLLATE "C" PRIMARY KEY,
        url TEXT NOT NULL,
        events TEXT NOT NULL DEFAULT '[]',
        devices TEXT NOT NULL DEFAULT '[]',
        paths TEXT NOT NULL DEFAULT '[]',
        secret TEXT,
        description TEXT NOT NULL DEFAULT '',
        created_at BIGINT NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'device profiles',
    // As SQLite's migration 9: profiles as JSON, a device's profile in a table of its own.
    sql: `
      CREATE TABLE profiles (
        id TEXT COLLATE "C" PRIMARY KEY,
        description TEXT NOT NULL,
        mappings TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      );
      CREATE TABLE device_profiles (
        device_id TEXT COLLATE "C" PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
        profile_id TEXT COLLATE "C" NOT NULL REFERENCES profiles (id)
      );
      CREATE INDEX device_profiles_by_profile ON device_profiles (profile_id);
    `,
  },
];

/**
 * Brings the database to the newest schema, each migration in its own transaction with its row
 * in schema_migrations; an advisory lock makes Tandem nodes that start together take turns.
 * Refuses a database written by a newer Tandem.
 */
export async function migratePostgres(
  pool: Pool,
  migrations: readonly Migration[] = PG_MIGRATIONS,
): Promise<number> {
  const client = await pool.connect();
  // Even CREATE TABLE IF NOT EXISTS races between two sessions: the lock covers everything.
  await client.query("SELECT pg_advisory_lock(hashtext('tandem schema_migrations'))");
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at BIGINT NOT NULL
    )`);
    const current = await currentVersion(client);
    const latest = migrations.at(-1)?.version ?? 0;
    if (current > latest) {
      throw new MigrationError(
        `the database is at schema version ${current}, newer than this Tandem knows (${latest}); upgrade Tandem or use another database`,
      );
    }
    for (const m of migrations) {
      if (m.version <= current) continue;
      await transaction(client, async () => {
        await client.query(m.sql);
        await client.query(
          'INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)',
          [m.version, m.name, Date.now()],
        );
      });
    }
    return latest;
  } finally {
    await client
      .query("SELECT pg_advisory_unlock(hashtext('tandem schema_migrations'))")
      .catch(() => undefined);
    client.release();
  }
}

async function currentVersion(client: PoolClient): Promise<number> {
  const { rows } = await client.query<{ v: number | null }>(
    'SELECT MAX(version) AS v FROM schema_migrations',
  );
  return rows[0]?.v ?? 0;
}
