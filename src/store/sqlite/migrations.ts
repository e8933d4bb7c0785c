import type Database from 'better-sqlite3';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/**
 * The schema, as an append-only list: a released migration is never edited, a change is a new
 * version. Each runs in its own transaction together with its row in schema_migrations.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'devices, credentials and telemetry',
    sql: `
      CREATE TABLE devices (
        id TEXT PRIMARY KEY,
        protocol TEXT NOT NULL CHECK (protocol IN ('lwm2m', 'mqtt')),
        metadata TEXT NOT NULL DEFAULT '{}',
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE device_tags (
        device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
        tag TEXT NOT NULL,
        position INTEGER NOT NULL,
        PRIMARY KEY (tag, device_id)
      );
      CREATE INDEX device_tags_by_device ON device_tags (device_id, position);
      CREATE TABLE credentials_mqtt (
        device_id TEXT PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
        username TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL
      );
      CREATE TABLE credentials_psk (
        device_id TEXT PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
        identity TEXT NOT NULL UNIQUE,
        key BLOB NOT NULL
      );
      CREATE TABLE credentials_rpk (
        device_id TEXT PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
        public_key BLOB NOT NULL UNIQUE
      );
      CREATE TABLE credentials_x509 (
        device_id TEXT PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
        certificate TEXT NOT NULL,
        subject TEXT NOT NULL UNIQUE
      );
      CREATE TABLE telemetry (
        device_id TEXT NOT NULL,
        path TEXT NOT NULL,
        ts INTEGER NOT NULL,
        value TEXT NOT NULL
      );
      CREATE INDEX telemetry_by_device_path_ts ON telemetry (device_id, path, ts);
      CREATE INDEX telemetry_by_device_ts ON telemetry (device_id, ts);
    `,
  },
];

export class MigrationError extends Error {
  readonly code = 'TANDEM_ERR_MIGRATION';
}

/** Brings the database to the newest schema; refuses one written by a newer Tandem. */
export function migrate(
  db: Database.Database,
  migrations: readonly Migration[] = MIGRATIONS,
): number {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  )`);
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as {
    v: number | null;
  };
  const current = row.v ?? 0;
  const latest = migrations.at(-1)?.version ?? 0;
  if (current > latest) {
    throw new MigrationError(
      `the database is at schema version ${current}, newer than this Tandem knows (${latest}); upgrade Tandem or use another data directory`,
    );
  }
  const record = db.prepare(
    'INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)',
  );
  for (const m of migrations) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      record.run(m.version, m.name, Date.now());
    })();
  }
  return latest;
}
