import type Database from 'better-sqlite3';
import type { Clock, TimerHandle } from '../../util/clock.js';
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
  TelemetryBuffer,
  type TelemetryRetention,
} from '../telemetry-rollups.js';
import { encodeBatch } from './telemetry-batch.js';
import { TelemetryWorkerError, TelemetryWorkerLink } from './telemetry-worker-link.js';
import { type RetentionDelete, SqliteTelemetryWriter } from './telemetry-writer.js';

/** Batches handed to the worker and not yet written, beyond which the main thread writes. */
const MAX_BATCHES_IN_FLIGHT = 16;
/** The longest wait before a new telemetry worker replaces one that died. */
const MAX_RESTART_DELAY_MS = 300_000;

export interface SqliteTelemetryOptions {
  clock: Clock;
  batchSize: number;
  flushIntervalMs: number;
  retention: TelemetryRetention;
  onError: (err: unknown) => void;
  /**
   * Write from a worker thread with its own connection to this database file (never
   * `:memory:`, which a second connection cannot share). Without it, on `db`'s thread.
   */
  worker?: { path: string; busyTimeoutMs: number };
}

/**
 * Telemetry is written in batches: one transaction per batch keeps SQLite's per-commit cost off
 * the ingest path. A batch is written when it is full, after `flushIntervalMs`, and on stop.
 * The same transaction adds the batch to its rollup buckets (one upsert per bucket touched), so
 * downsampled data never needs a rescan of the raw points; a RetentionSweeper deletes what
 * expired in small batches.
 *
 * With a file database the batches are written by a worker thread (telemetry-worker.ts): the
 * main thread, which runs the network endpoints, only buffers points and hands batches over.
 * The retention deletes go to the worker too, between two batches, so that the two never wait
 * for each other's write lock (the sweeper's timer and clock stay here). Reads stay on the
 * main connection, after every batch handed over so far is acknowledged (read-your-writes).
 *
 * A batch that fails (its transaction rolled back: disk full, an SQL error) is reported to
 * `onError`, counted in `failedBatches`, and put back in front of the buffer to be tried again
 * with the next flush; past `maxPending` buffered points the oldest are dropped and counted in
 * `dropped`, as the Postgres store does. A worker that dies is reported too: its batches are
 * put back and telemetry is written on the main thread until a new worker has started.
 *
 * When the worker falls behind (MAX_BATCHES_IN_FLIGHT batches handed over and not yet
 * answered), the main thread writes the next batch itself, as it does without a worker: the
 * wait for the write lock holds the event loop, which slows ingest to what the disk takes
 * instead of letting unwritten batches pile up in memory.
 */
export class SqliteTelemetryStore implements TelemetryStore {
  readonly #db: Database.Database;
  /** Writes on the main connection: without a worker, after it died, and left-overs on close. */
  readonly #writer: SqliteTelemetryWriter;
  readonly #sweeper: RetentionSweeper;
  readonly #onError: (err: unknown) => void;
  readonly #maxPending: number;
  readonly #maxInFlight: number;
  readonly intervals: readonly number[];
  readonly #buffer: TelemetryBuffer;
  #link: TelemetryWorkerLink | undefined;
  readonly #clock: Clock;
  /** The worker's settings, to start a new one after it died (see #workerLost). */
  readonly #workerSettings: { path: string; busyTimeoutMs: number } | undefined;
  /** Restarts in a row of a worker that did not last: the back-off grows with them. */
  #restarts = 0;
  #workerStartedAt = 0;
  /** The timer that starts the next worker, while one is due. */
  #restartTimer: TimerHandle | undefined;
  #closed = false;
  /** The batches handed to the worker and not yet acknowledged; each rejects if it failed. */
  readonly #inFlight = new Set<Promise<void>>();
  #inFlightPoints = 0;
  /** Batches that could not be written (each reported to onError). */
  failedBatches = 0;
  /** Points dropped because the buffer overflowed while writes failed. */
  dropped = 0;

  constructor(db: Database.Database, options: SqliteTelemetryOptions) {
    this.#db = db;
    this.#onError = options.onError;
    this.#clock = options.clock;
    this.#maxPending = Math.max(100 * options.batchSize, 100_000);
    this.#maxInFlight = MAX_BATCHES_IN_FLIGHT * options.batchSize;
    this.#buffer = new TelemetryBuffer({
      ...options,
      // A failure is reported where it happens (#failed); nobody waits for this flush.
      onFull: () => {
        this.flush().catch(() => undefined);
      },
    });
    this.intervals = options.retention.rollups.map((r) => r.intervalMs).sort((a, b) => a - b);
    this.#writer = new SqliteTelemetryWriter(db, this.intervals);
    this.#workerSettings = options.worker;
    if (options.worker) this.#startWorker(options.worker);
    // On the worker while there is one, between two of its batches; else on this connection.
    const run = (request: RetentionDelete) =>
      this.#link ? this.#link.request(request) : this.#writer.delete(request);
    this.#sweeper = new RetentionSweeper(
      {
        deletePoints: (olderThan, limit) => run({ type: 'deletePoints', olderThan, limit }),
        deleteBuckets: (intervalMs, endsBy, limit) =>
          run({ type: 'deleteBuckets', intervalMs, endsBy, limit }),
        deleteOtherBuckets: (kept, limit) => run({ type: 'deleteOtherBuckets', kept, limit }),
      },
      { retention: options.retention, clock: options.clock, onError: options.onError },
    );
  }

  /** The worker thread writing telemetry, while there is one (for diagnostics and tests). */
  get worker(): TelemetryWorkerLink['worker'] | undefined {
    return this.#link?.worker;
  }

  get pending(): number {
    return this.#buffer.points.length + this.#inFlightPoints;
  }

  get expired(): TelemetryExpiry {
    return this.#sweeper.expired;
  }

  append(points: readonly TelemetryPoint[]): void {
    this.#buffer.add(points);
  }

  async query(query: TelemetryQuery): Promise<TelemetryPoint[]> {
    await this.flush();
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
    await this.flush();
    const rows = this.#db.prepare(sql).all(params) as BucketRow[];
    return rows.map(bucketFromRow);
  }

  /** Deletes every expired point and bucket now (the timer does it in the background). */
  async sweep(): Promise<void> {
    await this.flush();
    await this.#sweeper.sweep();
  }

  /**
   * Hands the buffer to the writer and resolves once every batch handed over so far is
   * written with its rollups; rejects with the first failure among them (reported to
   * `onError` already, its points back in the buffer). Without a worker the batch is written
   * before this returns.
   */
  flush(): Promise<void> {
    const batch = this.#buffer.take();
    if (batch.length > 0) {
      if (this.#link && this.#inFlightPoints < this.#maxInFlight) this.#handOver(this.#link, batch);
      else {
        try {
          this.#writer.write(batch);
        } catch (err) {
          this.#failed(batch, err);
          return Promise.reject(err);
        }
      }
    }
    if (this.#inFlight.size === 0) return Promise.resolve();
    return Promise.all(this.#inFlight).then(() => undefined);
  }

  /**
   * Flushes, stops the retention sweeps and the worker. Never rejects: what the worker could
   * not write gets one last try on this thread, and what fails then is reported and dropped.
   */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#restartTimer) this.#clock.clearTimeout(this.#restartTimer);
    this.#sweeper.close();
    await this.flush().catch(() => undefined);
    const link = this.#link;
    this.#link = undefined;
    await link?.close();
    const rest = this.#buffer.take();
    try {
      this.#writer.write(rest);
    } catch (err) {
      this.failedBatches++;
      this.dropped += rest.length;
      this.#onError(err);
    }
  }

  #startWorker(settings: { path: string; busyTimeoutMs: number }): void {
    let link: TelemetryWorkerLink;
    try {
      link = new TelemetryWorkerLink({ ...settings, intervals: this.intervals }, (cause) =>
        this.#workerLost(link, cause),
      );
    } catch (err) {
      const failed = new TelemetryWorkerError(
        `the telemetry worker could not start (${(err as Error).message}); telemetry is written on the main thread`,
      );
      failed.cause = err;
      this.#onError(failed);
      return;
    }
    this.#link = link;
    this.#workerStartedAt = this.#clock.now();
    link.opened.catch((cause: unknown) => {
      this.#workerLost(link, cause);
      void link.terminate();
    });
  }

  /**
   * Telemetry is written on the main thread until a new worker is started, after a back-off
   * that doubles (1 s up to 5 min) while each new worker dies within 5 minutes of its start.
   */
  #workerLost(link: TelemetryWorkerLink, cause: unknown): void {
    if (this.#link !== link) return;
    this.#link = undefined;
    const lived = this.#clock.now() - this.#workerStartedAt;
    if (lived > MAX_RESTART_DELAY_MS) this.#restarts = 0;
    const delay = Math.min(MAX_RESTART_DELAY_MS, 1000 * 2 ** this.#restarts++);
    const err = new TelemetryWorkerError(
      `the telemetry worker stopped (${(cause as Error).message}); telemetry is written on the main thread, a new worker starts in ${delay / 1000} s`,
    );
    err.cause = cause;
    this.#onError(err);
    const settings = this.#workerSettings;
    if (!settings || this.#closed) return;
    this.#restartTimer = this.#clock.setTimeout(() => {
      this.#restartTimer = undefined;
      if (!this.#closed) this.#startWorker(settings);
    }, delay);
    this.#restartTimer.unref?.();
  }

  #handOver(link: TelemetryWorkerLink, batch: TelemetryPoint[]): void {
    const { batch: columns, transfer } = encodeBatch(batch);
    this.#inFlightPoints += batch.length;
    const written: Promise<void> = link.request({ type: 'write', batch: columns }, transfer).then(
      () => {
        this.#inFlightPoints -= batch.length;
        this.#inFlight.delete(written);
      },
      (err: unknown) => {
        this.#inFlightPoints -= batch.length;
        this.#inFlight.delete(written);
        this.#failed(batch, err);
        throw err;
      },
    );
    // Reported by #failed; flush() hands the rejection to whoever waits.
    written.catch(() => undefined);
    this.#inFlight.add(written);
  }

  #failed(batch: readonly TelemetryPoint[], err: unknown): void {
    this.failedBatches++;
    this.#onError(err);
    this.dropped += this.#buffer.putBack(batch, this.#maxPending);
  }
}
