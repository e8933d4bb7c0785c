import type Database from 'better-sqlite3';
import type { TelemetryPoint } from '../ports.js';
import { type RollupDelta, rollupDeltas } from '../telemetry-rollups.js';

/** A retention delete, run by the store's writer or handed to the worker's. */
export type RetentionDelete =
  | { type: 'deletePoints'; olderThan: number; limit: number }
  | { type: 'deleteBuckets'; intervalMs: number; endsBy: number; limit: number }
  | { type: 'deleteOtherBuckets'; kept: readonly number[]; limit: number };

/**
 * The statements that write SQLite telemetry, on one connection: a batch of points with its
 * rollups, and the retention deletes. The store runs them on its own connection (in-memory
 * databases, or when `storage.telemetryWorker` is off) or hands them to the telemetry worker
 * (telemetry-worker.ts), which runs them on the worker's connection to the same file.
 */
export class SqliteTelemetryWriter {
  readonly #db: Database.Database;
  readonly #intervals: readonly number[];
  readonly #insert: Database.Statement;
  readonly #rollup: Database.Statement;
  readonly #deletePoints: Database.Statement;
  readonly #deleteBuckets: Database.Statement;
  readonly #write: (batch: readonly TelemetryPoint[], deltas: readonly RollupDelta[]) => void;

  /** `intervals`: the rollup bucket widths (ms) every batch is added to. */
  constructor(db: Database.Database, intervals: readonly number[]) {
    this.#db = db;
    this.#intervals = intervals;
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
    this.#deletePoints = db.prepare(
      'DELETE FROM telemetry WHERE rowid IN (SELECT rowid FROM telemetry WHERE ts < ? LIMIT ?)',
    );
    this.#deleteBuckets = db.prepare(
      'DELETE FROM telemetry_rollups WHERE rowid IN (SELECT rowid FROM telemetry_rollups WHERE resolution = ? AND bucket <= ? LIMIT ?)',
    );
    // One transaction per batch: SQLite's per-commit cost is paid once for the points and
    // their rollups, and a failed batch leaves nothing half written.
    this.#write = db.transaction(
      (batch: readonly TelemetryPoint[], deltas: readonly RollupDelta[]) => {
        for (const p of batch) this.#insert.run(p.deviceId, p.path, p.ts, JSON.stringify(p.value));
        for (const d of deltas) this.#rollup.run({ ...d, last: JSON.stringify(d.last) });
      },
    );
  }

  /** Writes the points and adds them to their rollup buckets, in one transaction. */
  write(batch: readonly TelemetryPoint[]): void {
    if (batch.length > 0) this.#write(batch, rollupDeltas(batch, this.#intervals));
  }

  /** Runs one retention delete; returns the rows it removed. */
  delete(request: RetentionDelete): number {
    switch (request.type) {
      case 'deletePoints':
        return this.deletePoints(request.olderThan, request.limit);
      case 'deleteBuckets':
        return this.deleteBuckets(request.intervalMs, request.endsBy, request.limit);
      case 'deleteOtherBuckets':
        return this.deleteOtherBuckets(request.kept, request.limit);
    }
  }

  /** Deletes at most `limit` raw points older than `olderThan`; returns how many. */
  deletePoints(olderThan: number, limit: number): number {
    return this.#deletePoints.run(olderThan, limit).changes;
  }

  /** Deletes at most `limit` buckets of `intervalMs` that end at or before `endsBy`. */
  deleteBuckets(intervalMs: number, endsBy: number, limit: number): number {
    return this.#deleteBuckets.run(intervalMs, endsBy - intervalMs, limit).changes;
  }

  /** Deletes at most `limit` buckets of intervals not in `kept`. */
  deleteOtherBuckets(kept: readonly number[], limit: number): number {
    return this.#db
      .prepare(
        `DELETE FROM telemetry_rollups WHERE rowid IN (SELECT rowid FROM telemetry_rollups WHERE resolution NOT IN (${kept.map(() => '?').join(', ')}) LIMIT ?)`,
      )
      .run(...kept, limit).changes;
  }
}
