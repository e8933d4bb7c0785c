import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { type Clock, systemClock } from '../../util/clock.js';
import type { Store, StoreHealth } from '../ports.js';
import { DEFAULT_RETENTION, type TelemetryRetention } from '../telemetry-rollups.js';
import { SqliteBootstrapConfigStore } from './bootstrap-config-store.js';
import { SqliteCommandStore } from './command-store.js';
import { SqliteDeviceStore } from './device-store.js';
import { migrate } from './migrations.js';
import { SqliteMqttPersistence } from './mqtt-persistence.js';
import { SqliteProfileStore } from './profile-store.js';
import { SqliteTelemetryStore } from './telemetry-store.js';
import { SqliteTokenStore } from './token-store.js';
import { SqliteWebhookStore } from './webhook-store.js';

export interface SqliteStoreOptions {
  /** Directory holding `tandem.db`; created if missing. `:memory:` keeps everything in memory. */
  dataDir: string;
  clock?: Clock;
  batchSize?: number;
  flushIntervalMs?: number;
  retention?: TelemetryRetention;
  /**
   * Write telemetry from a worker thread (`storage.telemetryWorker`; default on). Ignored for
   * `:memory:`, which only its own connection sees.
   */
  telemetryWorker?: boolean;
}

/**
 * How long a connection waits for another's write transaction before SQLITE_BUSY: the main
 * connection and the telemetry worker's take turns (SQLite has one writer at a time).
 */
const BUSY_TIMEOUT_MS = 5000;

/** The embedded default store: one SQLite file in WAL mode, durable across a process crash. */
export class SqliteStore implements Store {
  readonly db: Database.Database;
  readonly devices: SqliteDeviceStore;
  readonly telemetry: SqliteTelemetryStore;
  /** The MQTT broker's persistence (sessions, subscriptions, retained, in-flight, queues). */
  readonly mqtt: SqliteMqttPersistence;
  readonly tokens: SqliteTokenStore;
  readonly webhooks: SqliteWebhookStore;
  readonly commands: SqliteCommandStore;
  readonly profiles: SqliteProfileStore;
  readonly bootstrapConfigs: SqliteBootstrapConfigStore;
  readonly schemaVersion: number;
  readonly path: string;
  /**
   * Told about a failed telemetry write or retention sweep (nobody awaits them); the owner
   * replaces it to log.
   */
  onError: (err: unknown) => void = () => undefined;
  #closing: Promise<void> | undefined;

  constructor(options: SqliteStoreOptions) {
    if (options.dataDir === ':memory:') this.path = ':memory:';
    else {
      mkdirSync(options.dataDir, { recursive: true });
      this.path = join(options.dataDir, 'tandem.db');
    }
    this.db = new Database(this.path);
    try {
      this.db.pragma('journal_mode = WAL');
      // NORMAL in WAL mode survives a process crash (kill -9); only a power loss may lose the
      // last transactions, which is the trade-off Mosquitto and most brokers make too.
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('foreign_keys = ON');
      this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      this.schemaVersion = migrate(this.db);
    } catch (err) {
      this.db.close();
      throw err;
    }
    const clock = options.clock ?? systemClock;
    this.devices = new SqliteDeviceStore(this.db, () => clock.now());
    this.tokens = new SqliteTokenStore(this.db, () => clock.now());
    this.webhooks = new SqliteWebhookStore(this.db, () => clock.now());
    this.commands = new SqliteCommandStore(this.db);
    this.profiles = new SqliteProfileStore(this.db, () => clock.now());
    this.telemetry = new SqliteTelemetryStore(this.db, {
      clock,
      batchSize: options.batchSize ?? 500,
      flushIntervalMs: options.flushIntervalMs ?? 1000,
      retention: options.retention ?? DEFAULT_RETENTION,
      onError: (err) => this.onError(err),
      ...(options.telemetryWorker !== false && this.path !== ':memory:'
        ? { worker: { path: this.path, busyTimeoutMs: BUSY_TIMEOUT_MS } }
        : {}),
    });
    this.mqtt = new SqliteMqttPersistence(this.db);
    this.bootstrapConfigs = new SqliteBootstrapConfigStore(this.db, () => clock.now());
  }

  health(): StoreHealth {
    if (!this.db.open) return { ok: false, backend: 'sqlite', detail: 'closed' };
    try {
      this.db.prepare('SELECT 1').get();
      return { ok: true, backend: 'sqlite', detail: this.path };
    } catch (err) {
      return { ok: false, backend: 'sqlite', detail: (err as Error).message };
    }
  }

  async flush(): Promise<void> {
    this.mqtt.flush();
    await this.telemetry.flush();
  }

  /** Writes everything buffered, stops the telemetry worker, then closes the database. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (!this.db.open) return;
    await this.telemetry.close();
    this.mqtt.close();
    if (this.path !== ':memory:') this.db.pragma('wal_checkpoint(TRUNCATE)');
    this.db.close();
  }
}
