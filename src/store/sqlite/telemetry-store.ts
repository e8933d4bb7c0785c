import type Database from 'better-sqlite3';
import type { Clock } from '../../util/clock.js';
import type { TelemetryPoint, TelemetryQuery, TelemetryStore, TelemetryValue } from '../ports.js';

const MAX_QUERY = 10_000;

/**
 * Telemetry is written in batches: one transaction per batch keeps SQLite's per-commit cost off
 * the ingest path. A batch is written when it is full, after `flushIntervalMs`, and on stop.
 */
export class SqliteTelemetryStore implements TelemetryStore {
  readonly #db: Database.Database;
  readonly #clock: Clock;
  readonly #batchSize: number;
  readonly #flushIntervalMs: number;
  readonly #insert: Database.Statement;
  #buffer: TelemetryPoint[] = [];
  #timer: ReturnType<Clock['setTimeout']> | undefined;

  constructor(
    db: Database.Database,
    options: { clock: Clock; batchSize: number; flushIntervalMs: number },
  ) {
    this.#db = db;
    this.#clock = options.clock;
    this.#batchSize = options.batchSize;
    this.#flushIntervalMs = options.flushIntervalMs;
    this.#insert = db.prepare(
      'INSERT INTO telemetry (device_id, path, ts, value) VALUES (?, ?, ?, ?)',
    );
  }

  get pending(): number {
    return this.#buffer.length;
  }

  append(points: readonly TelemetryPoint[]): void {
    this.#buffer.push(...points);
    if (this.#buffer.length >= this.#batchSize) this.flush();
    else if (!this.#timer && this.#buffer.length > 0) {
      this.#timer = this.#clock.setTimeout(() => {
        this.#timer = undefined;
        this.flush();
      }, this.#flushIntervalMs);
      this.#timer.unref?.();
    }
  }

  async query(query: TelemetryQuery): Promise<TelemetryPoint[]> {
    this.flush();
    const where = ['device_id = ?'];
    const args: unknown[] = [query.deviceId];
    if (query.path !== undefined) {
      where.push('path = ?');
      args.push(query.path);
    }
    if (query.from !== undefined) {
      where.push('ts >= ?');
      args.push(query.from);
    }
    if (query.to !== undefined) {
      where.push('ts <= ?');
      args.push(query.to);
    }
    const limit = Math.min(Math.max(query.limit ?? 1000, 1), MAX_QUERY);
    const rows = this.#db
      .prepare(
        `SELECT device_id, path, ts, value FROM telemetry WHERE ${where.join(' AND ')} ORDER BY ts DESC, rowid DESC LIMIT ${limit}`,
      )
      .all(...args) as { device_id: string; path: string; ts: number; value: string }[];
    return rows.map((r) => ({
      deviceId: r.device_id,
      path: r.path,
      ts: r.ts,
      value: JSON.parse(r.value) as TelemetryValue,
    }));
  }

  /** Writes the buffer in one transaction. Synchronous: safe to call from a signal handler. */
  flush(): void {
    if (this.#timer) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#buffer.length === 0) return;
    const batch = this.#buffer;
    this.#buffer = [];
    this.#db.transaction(() => {
      for (const p of batch) this.#insert.run(p.deviceId, p.path, p.ts, JSON.stringify(p.value));
    })();
  }
}
