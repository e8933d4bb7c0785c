import type Database from 'better-sqlite3';
import type { Clock } from '../../util/clock.js';
import type {
  TelemetryBucket,
  TelemetryBucketQuery,
  TelemetryExpiry,
  TelemetryPoint,
  TelemetryQuery,
  TelemetryStore,
} from '../ports.js';
import {
  type BucketRow,
  bucketFromRow,
  bucketQuery,
  pointFromRow,
  queryLimit,
  RetentionSweeper,
  rollupDeltas,
  TelemetryBuffer,
  type TelemetryRetention,
} from '../telemetry-rollups.js';

/**
 * Telemetry is written in batches: one transaction per batch keeps SQLite's per-commit cost off
 * the ingest path. A batch is written when it is full, after `flushIntervalMs`, and on stop.
 * The same transaction adds the batch to its rollup buckets (one upsert per bucket touched), so
 * downsampled data never needs a rescan of the raw points; a RetentionSweeper deletes what
 * expired in small batches.
 */
export class SqliteTelemetryStore implements TelemetryStore {
  readonly #db: Database.Database;
  readonly #insert: Database.Statement;
  readonly #rollup: Database.Statement;
  readonly #sweeper: RetentionSweeper;
  readonly intervals: readonly number[];
  readonly #buffer: TelemetryBuffer;

  constructor(
    db: Database.Database,
    options: {
      clock: Clock;
      batchSize: number;
      flushIntervalMs: number;
      retention: TelemetryRetention;
      onError: (err: unknown) => void;
    },
  ) {
    this.#db = db;
    this.#buffer = new TelemetryBuffer({ ...options, onFull: () => this.flush() });
    this.intervals = options.retention.rollups.map((r) => r.intervalMs).sort((a, b) => a - b);
    this.#insert = db.prepare(
      'INSERT INTO telemetry (device_id, path, ts, value) VALUES (?, ?, ?, ?)',
    );
    // SQLite's two-argument min() and max() are NULL when either side is: coalesce keeps the
    // side that has a value.
    this.#rollup = db.prepare(`
      INSERT INTO telemetry_rollups
        (device_id, path, resolution, bucket, count, num_count, sum, min, max, last, last_ts)
      VALUES (@deviceId, @path, @intervalMs, @bucket, @count, @numCount, @sum, @min, @max, @last, @lastTs)
      ON CONFLICT (device_id, resolution, path, bucket) DO UPDATE SET
        count = count + excluded.count,
        num_count = num_count + excluded.num_count,
        sum = coalesce(sum + excluded.sum, sum, excluded.sum),
        min = coalesce(min(min, excluded.min), min, excluded.min),
        max = coalesce(max(max, excluded.max), max, excluded.max),
        last = CASE WHEN excluded.last_ts >= last_ts THEN excluded.last ELSE last END,
        last_ts = max(last_ts, excluded.last_ts)`);
    const deletePoints = db.prepare(
      'DELETE FROM telemetry WHERE rowid IN (SELECT rowid FROM telemetry WHERE ts < ? LIMIT ?)',
    );
    const deleteBuckets = db.prepare(
      'DELETE FROM telemetry_rollups WHERE rowid IN (SELECT rowid FROM telemetry_rollups WHERE resolution = ? AND bucket <= ? LIMIT ?)',
    );
    this.#sweeper = new RetentionSweeper(
      {
        deletePoints: (olderThan, limit) => deletePoints.run(olderThan, limit).changes,
        deleteBuckets: (intervalMs, endsBy, limit) =>
          deleteBuckets.run(intervalMs, endsBy - intervalMs, limit).changes,
        deleteOtherBuckets: (kept, limit) =>
          db
            .prepare(
              `DELETE FROM telemetry_rollups WHERE rowid IN (SELECT rowid FROM telemetry_rollups WHERE resolution NOT IN (${kept.map(() => '?').join(', ')}) LIMIT ?)`,
            )
            .run(...kept, limit).changes,
      },
      { retention: options.retention, clock: options.clock, onError: options.onError },
    );
  }

  get pending(): number {
    return this.#buffer.points.length;
  }

  get expired(): TelemetryExpiry {
    return this.#sweeper.expired;
  }

  append(points: readonly TelemetryPoint[]): void {
    this.#buffer.add(points);
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
    const rows = this.#db
      .prepare(
        `SELECT device_id, path, ts, value FROM telemetry WHERE ${where.join(' AND ')} ORDER BY ts DESC, rowid DESC LIMIT ${queryLimit(query.limit)}`,
      )
      .all(...args) as Parameters<typeof pointFromRow>[0][];
    return rows.map(pointFromRow);
  }

  async buckets(query: TelemetryBucketQuery): Promise<TelemetryBucket[]> {
    const { sql, params } = bucketQuery(query, this.intervals, (name) => `@${name}`);
    this.flush();
    const rows = this.#db.prepare(sql).all(params) as BucketRow[];
    return rows.map(bucketFromRow);
  }

  /** Deletes every expired point and bucket now (the timer does it in the background). */
  sweep(): Promise<void> {
    this.flush();
    return this.#sweeper.sweep();
  }

  /** Writes the buffer and its rollups in one transaction. Synchronous: safe from a signal handler. */
  flush(): void {
    const batch = this.#buffer.take();
    if (batch.length === 0) return;
    const deltas = rollupDeltas(batch, this.intervals);
    this.#db.transaction(() => {
      for (const p of batch) this.#insert.run(p.deviceId, p.path, p.ts, JSON.stringify(p.value));
      for (const d of deltas) this.#rollup.run({ ...d, last: JSON.stringify(d.last) });
    })();
  }

  /** Flushes and stops the retention sweeps. */
  close(): void {
    this.#sweeper.close();
    this.flush();
  }
}
