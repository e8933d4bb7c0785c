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
  {
    version: 2,
    name: 'mqtt sessions, subscriptions, retained messages, deliveries and incoming QoS 2',
    // No foreign keys: the broker writes a session's rows in any order and deletes them lazily.
    // Messages are columns (payload BLOB, properties JSON with Buffers as {"$b64": ...}).
    sql: `
      CREATE TABLE mqtt_sessions (
        client_id TEXT PRIMARY KEY,
        protocol_version INTEGER NOT NULL,
        expiry_interval INTEGER NOT NULL,
        disconnected_at INTEGER,
        will_delay INTEGER,
        will_topic TEXT,
        will_payload BLOB,
        will_qos INTEGER,
        will_retain INTEGER,
        will_properties TEXT,
        will_expires_at INTEGER,
        will_origin TEXT
      );
      CREATE TABLE mqtt_subscriptions (
        client_id TEXT NOT NULL,
        filter TEXT NOT NULL,
        topic_filter TEXT NOT NULL,
        qos INTEGER NOT NULL,
        no_local INTEGER NOT NULL,
        retain_as_published INTEGER NOT NULL,
        retain_handling INTEGER NOT NULL,
        subscription_identifier INTEGER,
        share_group TEXT,
        PRIMARY KEY (client_id, filter)
      ) WITHOUT ROWID;
      CREATE TABLE mqtt_retained (
        topic TEXT PRIMARY KEY,
        payload BLOB NOT NULL,
        qos INTEGER NOT NULL,
        retain INTEGER NOT NULL,
        properties TEXT,
        expires_at INTEGER,
        origin TEXT
      );
      CREATE TABLE mqtt_deliveries (
        client_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('queued', 'publish', 'pubrel')),
        packet_id INTEGER,
        qos INTEGER NOT NULL,
        retain INTEGER NOT NULL,
        subscription_ids TEXT,
        share_group TEXT,
        topic TEXT NOT NULL,
        payload BLOB NOT NULL,
        message_qos INTEGER NOT NULL,
        message_retain INTEGER NOT NULL,
        properties TEXT,
        expires_at INTEGER,
        origin TEXT,
        PRIMARY KEY (client_id, seq)
      ) WITHOUT ROWID;
      CREATE TABLE mqtt_incoming_qos2 (
        client_id TEXT NOT NULL,
        packet_id INTEGER NOT NULL,
        PRIMARY KEY (client_id, packet_id)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 3,
    name: 'api tokens',
    // Only the SHA-256 of a token is kept (see src/hub/api-tokens.ts for why not a slow hash).
    sql: `
      CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('read-only', 'operator', 'admin')),
        description TEXT NOT NULL DEFAULT '',
        hash BLOB NOT NULL UNIQUE,
        created_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 4,
    name: 'lwm2m bootstrap configurations',
    // One row per endpoint name or `*` pattern; the configuration as JSON (keys in base64).
    sql: `
      CREATE TABLE bootstrap_configs (
        key TEXT PRIMARY KEY,
        config TEXT NOT NULL,
        updated_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 5,
    name: 'lwm2m registrations',
    // One row per registration (LwM2M-TS-Core 1.1 §6.2.1: one per endpoint name, unique IDs);
    // the peer's DTLS identity in columns, the object links and parameters as JSON. Read once
    // at start (the store keeps them in memory), so no index but the keys: each Register or
    // Update commits as few pages as possible.
    sql: `
      CREATE TABLE lwm2m_registrations (
        id TEXT PRIMARY KEY,
        endpoint TEXT NOT NULL UNIQUE,
        lwm2m_version TEXT NOT NULL,
        lifetime INTEGER NOT NULL,
        binding TEXT NOT NULL,
        queue_mode INTEGER NOT NULL,
        sms_number TEXT,
        peer_key TEXT NOT NULL,
        peer_address TEXT NOT NULL,
        peer_port INTEGER NOT NULL,
        identity_kind TEXT CHECK (identity_kind IN ('psk', 'rpk', 'x509')),
        identity_name TEXT,
        identity_der BLOB,
        root_path TEXT NOT NULL,
        object_links TEXT NOT NULL,
        object_versions TEXT NOT NULL,
        content_formats TEXT NOT NULL,
        additional_params TEXT NOT NULL,
        preferred_content_format INTEGER,
        registered_at INTEGER NOT NULL,
        last_update_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 6,
    name: 'webhooks',
    // The filters as JSON arrays (empty: everything). The secret is kept as given: it is the
    // key of the deliveries' HMAC, so it cannot be hashed like an API token.
    sql: `
      CREATE TABLE webhooks (
        id TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        events TEXT NOT NULL DEFAULT '[]',
        devices TEXT NOT NULL DEFAULT '[]',
        paths TEXT NOT NULL DEFAULT '[]',
        secret TEXT,
        description TEXT NOT NULL DEFAULT '',
        created_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 7,
    name: 'queued commands',
    // The hub's command queue: a command document per row, its state and outcome as JSON.
    sql: `
      CREATE TABLE commands (
        id TEXT PRIMARY KEY,
        device_id TEXT NOT NULL,
        command TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'succeeded', 'failed', 'expired', 'cancelled')),
        by_token TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        outcome TEXT
      );
      CREATE INDEX commands_by_device ON commands (device_id, created_at);
      CREATE INDEX commands_unfinished ON commands (status, created_at) WHERE status IN ('queued', 'sent');
    `,
  },
  {
    version: 8,
    name: 'telemetry rollups and retention',
    // One row per device, path, bucket width (ms) and bucket start; written incrementally with
    // each batch of points (src/store/telemetry-rollups.ts). sum, min and max cover the
    // num_count numeric values only; last is JSON like telemetry.value. The indexes on time
    // let the retention sweep delete the oldest rows in small batches. Points stored before
    // this version have no buckets.
    sql: `
      CREATE TABLE telemetry_rollups (
        device_id TEXT NOT NULL,
        path TEXT NOT NULL,
        resolution INTEGER NOT NULL,
        bucket INTEGER NOT NULL,
        count INTEGER NOT NULL,
        num_count INTEGER NOT NULL,
        sum REAL,
        min REAL,
        max REAL,
        last TEXT NOT NULL,
        last_ts INTEGER NOT NULL,
        UNIQUE (device_id, resolution, path, bucket)
      );
      CREATE INDEX telemetry_rollups_by_age ON telemetry_rollups (resolution, bucket);
      CREATE INDEX telemetry_by_ts ON telemetry (ts);
    `,
  },
  {
    version: 9,
    name: 'device profiles',
    // Profiles as JSON; a device's profile in a table of its own (a device has at most one).
    sql: `
      CREATE TABLE profiles (
        id TEXT PRIMARY KEY,
        description TEXT NOT NULL,
        mappings TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE device_profiles (
        device_id TEXT PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
        profile_id TEXT NOT NULL REFERENCES profiles (id)
      );
      CREATE INDEX device_profiles_by_profile ON device_profiles (profile_id);
    `,
  },
  {
    version: 10,
    name: 'lwm2m observations; managed MQTT registrations and observations',
    // The observations the devices accepted (RFC 7641 §3.1), so that their notifications are
    // still matched by token after a restart; they go with their registration (LwM2M-TS-Core
    // 1.2 §6.3), which the store deletes in the same transaction (the foreign key holds the
    // line). Paths as a JSON array. Read once at start, like the registrations. The LwM2M
    // server of managed MQTT devices keeps the same in tables of its own: its endpoint names
    // and registration IDs are its own (a name may be registered on both servers).
    sql: `
      CREATE TABLE lwm2m_observations (
        id TEXT PRIMARY KEY,
        token TEXT NOT NULL,
        registration_id TEXT NOT NULL REFERENCES lwm2m_registrations (id) ON DELETE CASCADE,
        endpoint TEXT NOT NULL,
        paths TEXT NOT NULL,
        composite INTEGER NOT NULL,
        format INTEGER NOT NULL,
        created_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX lwm2m_observations_by_registration ON lwm2m_observations (registration_id);
      CREATE TABLE lwm2m_mqtt_registrations (
        id TEXT PRIMARY KEY,
        endpoint TEXT NOT NULL UNIQUE,
        lwm2m_version TEXT NOT NULL,
        lifetime INTEGER NOT NULL,
        binding TEXT NOT NULL,
        queue_mode INTEGER NOT NULL,
        sms_number TEXT,
        peer_key TEXT NOT NULL,
        peer_address TEXT NOT NULL,
        peer_port INTEGER NOT NULL,
        identity_kind TEXT CHECK (identity_kind IN ('psk', 'rpk', 'x509')),
        identity_name TEXT,
        identity_der BLOB,
        root_path TEXT NOT NULL,
        object_links TEXT NOT NULL,
        object_versions TEXT NOT NULL,
        content_formats TEXT NOT NULL,
        additional_params TEXT NOT NULL,
        preferred_content_format INTEGER,
        registered_at INTEGER NOT NULL,
        last_update_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE lwm2m_mqtt_observations (
        id TEXT PRIMARY KEY,
        token TEXT NOT NULL,
        registration_id TEXT NOT NULL REFERENCES lwm2m_mqtt_registrations (id) ON DELETE CASCADE,
        endpoint TEXT NOT NULL,
        paths TEXT NOT NULL,
        composite INTEGER NOT NULL,
        format INTEGER NOT NULL,
        created_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX lwm2m_mqtt_observations_by_registration
        ON lwm2m_mqtt_observations (registration_id);
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
