import pg from 'pg';
import { type Clock, systemClock } from '../../util/clock.js';
import type { Store, StoreHealth } from '../ports.js';
import type { SqliteStore } from '../sqlite/index.js';
import { DEFAULT_RETENTION, type TelemetryRetention } from '../telemetry-rollups.js';
import { PgBootstrapConfigStore } from './bootstrap-config-store.js';
import { PgCommandStore } from './command-store.js';
import { PgDeviceStore } from './device-store.js';
import { migratePostgres } from './migrations.js';
import { PgProfileStore } from './profile-store.js';
import { inTransaction, type PgQuery, type PgTransact } from './query.js';
import { PgTelemetryStore } from './telemetry-store.js';
import { PgTokenStore } from './token-store.js';
import { PgWebhookStore } from './webhook-store.js';

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database` (libpq URL syntax, as `pg` reads it). */
  url: string;
  clock?: Clock;
  batchSize?: number;
  flushIntervalMs?: number;
  retention?: TelemetryRetention;
  /** Connections in the pool. */
  poolSize?: number;
  /**
   * The node's embedded store for the state that belongs to this node: the MQTT broker's
   * sessions (the broker acknowledges a QoS 1/2 PUBLISH once its deliveries are durable, which
   * must not wait for a remote round trip) and the LwM2M registrations of the devices talking
   * to this node. Closed with this store. See docs/storage.md.
   */
  local?: SqliteStore;
}

const INT8_OID = 20;

/**
 * The scale-out store on Postgres: devices, credentials, API tokens, bootstrap configurations,
 * queued commands, webhooks, device profiles and telemetry (with rollups and retention, on a TimescaleDB hypertable when the extension is
 * installed). Open it with `PostgresStore.open`, which applies the migrations.
 */
export class PostgresStore implements Store {
  readonly pool: pg.Pool;
  readonly devices: PgDeviceStore;
  readonly telemetry: PgTelemetryStore;
  readonly tokens: PgTokenStore;
  readonly bootstrapConfigs: PgBootstrapConfigStore;
  readonly commands: PgCommandStore;
  readonly webhooks: PgWebhookStore;
  readonly profiles: PgProfileStore;
  readonly local: SqliteStore | undefined;
  readonly schemaVersion: number;
  /** Whether raw telemetry is a TimescaleDB hypertable. */
  readonly timescale: boolean;
  /** Told about a failed background write or retention sweep; the owner replaces it to log. */
  onError: (err: unknown) => void = () => undefined;
  readonly #target: string;
  #failure: string | undefined;
  #closed = false;

  private constructor(
    pool: pg.Pool,
    options: PostgresStoreOptions,
    schemaVersion: number,
    timescale: boolean,
  ) {
    this.pool = pool;
    this.schemaVersion = schemaVersion;
    this.timescale = timescale;
    const url = new URL(options.url);
    this.#target = `${url.hostname || 'localhost'}${url.port ? `:${url.port}` : ''}${url.pathname}`;
    const clock = options.clock ?? systemClock;
    const now = () => clock.now();
    const q = this.#query;
    this.devices = new PgDeviceStore(q, this.#transact, now);
    this.tokens = new PgTokenStore(q, now);
    this.bootstrapConfigs = new PgBootstrapConfigStore(q, now);
    this.commands = new PgCommandStore(q);
    this.webhooks = new PgWebhookStore(q, now);
    this.profiles = new PgProfileStore(q, now);
    this.telemetry = new PgTelemetryStore(q, this.#transact, {
      clock,
      batchSize: options.batchSize ?? 500,
      flushIntervalMs: options.flushIntervalMs ?? 1000,
      retention: options.retention ?? DEFAULT_RETENTION,
      timescale,
      onError: (err) => this.onError(err),
    });
    this.local = options.local;
  }

  /** Connects, migrates, and turns raw telemetry into a hypertable where TimescaleDB exists. */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      // Milliseconds since the epoch and counts are BIGINT; they fit a double exactly.
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === INT8_OID && format !== 'binary'
            ? (v: string) => Number(v)
            : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
      },
    });
    // An idle connection that the server drops must not crash the process: the next query
    // gets a fresh one, and health() reports the failure meanwhile.
    let store: PostgresStore | undefined;
    pool.on('error', (err) => {
      if (store) store.#fail(err);
    });
    try {
      const version = await migratePostgres(pool);
      const timescale = await enableTimescale(pool);
      store = new PostgresStore(pool, options, version, timescale);
      return store;
    } catch (err) {
      await pool.end();
      await options.local?.close();
      throw err;
    }
  }

  /**
   * Every query and transaction of the adapters goes through these two, so that health()
   * knows the last outcome.
   */
  readonly #query: PgQuery = <R extends pg.QueryResultRow>(sql: string, params?: unknown[]) =>
    this.#track(this.pool.query<R>(sql, params));

  readonly #transact: PgTransact = (fn) => this.#track(inTransaction(this.pool, fn));

  async #track<T>(work: Promise<T>): Promise<T> {
    try {
      const result = await work;
      this.#failure = undefined;
      return result;
    } catch (err) {
      this.#fail(err);
      throw err;
    }
  }

  #fail(err: unknown): void {
    // Constraint violations are answers, not failures of the store.
    if (!String((err as { code?: string }).code ?? '').startsWith('23')) {
      this.#failure = (err as Error).message;
    }
  }

  health(): StoreHealth {
    if (this.#closed) return { ok: false, backend: 'postgres', detail: 'closed' };
    if (this.#failure) return { ok: false, backend: 'postgres', detail: this.#failure };
    return {
      ok: true,
      backend: 'postgres',
      detail: `${this.#target}${this.timescale ? ' (timescaledb)' : ''}`,
    };
  }

  async flush(): Promise<void> {
    await this.telemetry.flush();
    await this.local?.flush();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.telemetry.close();
    } finally {
      await this.pool.end();
      await this.local?.close();
    }
  }
}

/**
 * TimescaleDB, when the server has it: raw telemetry becomes a hypertable in one-day chunks, so
 * that retention drops whole chunks. CREATE EXTENSION fails when the library is not preloaded
 * (shared_preload_libraries) or the role may not create it; the store then keeps plain tables.
 */
async function enableTimescale(pool: pg.Pool): Promise<boolean> {
  const available = await pool.query(
    "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'",
  );
  if (available.rowCount === 0) return false;
  try {
    await pool.query('CREATE EXTENSION IF NOT EXISTS timescaledb');
    await pool.query(
      "SELECT create_hypertable('telemetry', 'ts', chunk_time_interval => 86400000::bigint, if_not_exists => true, migrate_data => true)",
    );
    return true;
  } catch {
    return false;
  }
}
