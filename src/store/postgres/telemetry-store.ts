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
import type { PgQuery, PgTransact } from './query.js';

/** Raw chunks of the TimescaleDB hypertable (see enableTimescale). */
const CHUNK_MS = 86_400_000;

/**
 * Telemetry in Postgres, written in batches like the SQLite store: one transaction per batch
 * inserts the points (one statement over arrays) and merges the batch into its rollup buckets.
 * A failed batch goes back to the front of the buffer and is tried again with the next flush;
 * past `maxPending` points the oldest are dropped (and counted) so that an unreachable database
 * cannot exhaust memory.
 */
export class PgTelemetryStore implements TelemetryStore {
  readonly #query: PgQuery;
  readonly #transact: PgTransact;
  readonly #maxPending: number;
  readonly #onError: (err: unknown) => void;
  readonly #sweeper: RetentionSweeper;
  readonly intervals: readonly number[];
  readonly #buffer: TelemetryBuffer;
  #writing = 0;
  /** The flush in progress; flushes run one after the other. */
  #flushing: Promise<void> = Promise.resolve();
  /** Points dropped because the buffer overflowed while the database failed. */
  dropped = 0;
  /** Batches whose write failed. */
  failedBatches = 0;

  constructor(
    query: PgQuery,
    transact: PgTransact,
    options: {
      clock: Clock;
      batchSize: number;
      flushIntervalMs: number;
      retention: TelemetryRetention;
      timescale: boolean;
      onError: (err: unknown) => void;
    },
  ) {
    this.#query = query;
    this.#transact = transact;
    this.#buffer = new TelemetryBuffer({
      ...options,
      onFull: () => {
        this.flush().catch(this.#onError);
      },
    });
    this.#maxPending = Math.max(100 * options.batchSize, 100_000);
    this.#onError = options.onError;
    this.intervals = options.retention.rollups.map((r) => r.intervalMs).sort((a, b) => a - b);
    const deleted = async (sql: string, params: unknown[]) =>
      (await query(sql, params)).rowCount ?? 0;
    this.#sweeper = new RetentionSweeper(
      {
        deletePoints: async (olderThan, limit) => {
          // TimescaleDB drops whole chunks older than the cutoff (counting their rows first,
          // for the metric); the rows of the chunk the cutoff falls in go row by row below.
          const dropped = options.timescale ? await this.#dropChunks(olderThan) : 0;
          const rows = await deleted(
            'DELETE FROM telemetry WHERE ctid = ANY (ARRAY(SELECT ctid FROM telemetry WHERE ts < $1 LIMIT $2))',
            [olderThan, limit],
          );
          return dropped + rows;
        },
        deleteBuckets: (intervalMs, endsBy, limit) =>
          deleted(
            'DELETE FROM telemetry_rollups WHERE ctid = ANY (ARRAY(SELECT ctid FROM telemetry_rollups WHERE resolution = $1 AND bucket <= $2 LIMIT $3))',
            [intervalMs, endsBy - intervalMs, limit],
          ),
        deleteOtherBuckets: (kept, limit) =>
          deleted(
            'DELETE FROM telemetry_rollups WHERE ctid = ANY (ARRAY(SELECT ctid FROM telemetry_rollups WHERE resolution <> ALL ($1::bigint[]) LIMIT $2))',
            [kept, limit],
          ),
      },
      { retention: options.retention, clock: options.clock, onError: options.onError },
    );
  }

  get pending(): number {
    return this.#buffer.points.length + this.#writing;
  }

  get expired(): TelemetryExpiry {
    return this.#sweeper.expired;
  }

  append(points: readonly TelemetryPoint[]): void {
    this.#buffer.add(points);
  }

  async query(query: TelemetryQuery): Promise<TelemetryPoint[]> {
    await this.flush();
    const args: unknown[] = [query.deviceId];
    const where = ['device_id = $1'];
    const add = (clause: string, value: unknown) => {
      args.push(value);
      where.push(`${clause} $${args.length}`);
    };
    if (query.path !== undefined) add('path =', query.path);
    if (query.from !== undefined) add('ts >=', query.from);
    if (query.to !== undefined) add('ts <=', query.to);
    const { rows } = await this.#query<Parameters<typeof pointFromRow>[0]>(
      `SELECT device_id, path, ts, value FROM telemetry WHERE ${where.join(' AND ')} ORDER BY ts DESC, seq DESC LIMIT ${queryLimit(query.limit)}`,
      args,
    );
    return rows.map(pointFromRow);
  }

  async buckets(query: TelemetryBucketQuery): Promise<TelemetryBucket[]> {
    const order: string[] = [];
    const { sql, params } = bucketQuery(query, this.intervals, (name) => {
      if (!order.includes(name)) order.push(name);
      return `$${order.indexOf(name) + 1}`;
    });
    await this.flush();
    const { rows } = await this.#query<BucketRow>(
      sql,
      order.map((name) => params[name]),
    );
    return rows.map(bucketFromRow);
  }

  async sweep(): Promise<void> {
    await this.flush();
    await this.#sweeper.sweep();
  }

  /** Writes everything buffered so far; resolves when it is committed. */
  flush(): Promise<void> {
    // A failed flush was reported to its caller; the next one tries again.
    this.#flushing = this.#flushing.catch(() => undefined).then(() => this.#writeBuffer());
    return this.#flushing;
  }

  /** Flushes and stops the retention sweeps. */
  async close(): Promise<void> {
    this.#sweeper.close();
    await this.flush();
  }

  async #writeBuffer(): Promise<void> {
    const batch = this.#buffer.take();
    if (batch.length === 0) return;
    this.#writing = batch.length;
    try {
      await this.#write(batch);
    } catch (err) {
      this.failedBatches++;
      const buffer = this.#buffer;
      buffer.points = batch.concat(buffer.points);
      const excess = buffer.points.length - this.#maxPending;
      if (excess > 0) {
        buffer.points.splice(0, excess);
        this.dropped += excess;
      }
      throw err;
    } finally {
      this.#writing = 0;
    }
  }

  async #write(batch: readonly TelemetryPoint[]): Promise<void> {
    // Buckets in key order, so that two nodes merging into the same buckets lock them in the
    // same order and cannot deadlock.
    const deltas = rollupDeltas(batch, this.intervals).sort(
      (a, b) =>
        a.intervalMs - b.intervalMs ||
        a.bucket - b.bucket ||
        (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0) ||
        (a.path < b.path ? -1 : a.path > b.path ? 1 : 0),
    );
    await this.#transact(async (c) => {
      await c.query(
        'INSERT INTO telemetry (device_id, path, ts, value) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[])',
        [
          batch.map((p) => p.deviceId),
          batch.map((p) => p.path),
          batch.map((p) => p.ts),
          batch.map((p) => JSON.stringify(p.value)),
        ],
      );
      if (deltas.length === 0) return;
      await c.query(
        `INSERT INTO telemetry_rollups AS r
           (device_id, path, resolution, bucket, count, num_count, sum, min, max, last, last_ts)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[],
           $6::bigint[], $7::float8[], $8::float8[], $9::float8[], $10::text[], $11::bigint[])
         ON CONFLICT (device_id, resolution, path, bucket) DO UPDATE SET
           count = r.count + excluded.count,
           num_count = r.num_count + excluded.num_count,
           sum = COALESCE(r.sum + excluded.sum, r.sum, excluded.sum),
           min = LEAST(r.min, excluded.min),
           max = GREATEST(r.max, excluded.max),
           last = CASE WHEN excluded.last_ts >= r.last_ts THEN excluded.last ELSE r.last END,
           last_ts = GREATEST(r.last_ts, excluded.last_ts)`,
        [
          deltas.map((d) => d.deviceId),
          deltas.map((d) => d.path),
          deltas.map((d) => d.intervalMs),
          deltas.map((d) => d.bucket),
          deltas.map((d) => d.count),
          deltas.map((d) => d.numCount),
          deltas.map((d) => d.sum),
          deltas.map((d) => d.min),
          deltas.map((d) => d.max),
          deltas.map((d) => JSON.stringify(d.last)),
          deltas.map((d) => d.lastTs),
        ],
      );
    });
  }

  /** Drops the hypertable chunks that end before `olderThan`; returns the rows they held. */
  async #dropChunks(olderThan: number): Promise<number> {
    const whole = olderThan - (olderThan % CHUNK_MS);
    return this.#transact(async (c) => {
      const { rows } = await c.query<{ n: number }>(
        'SELECT COUNT(*) AS n FROM telemetry WHERE ts < $1',
        [whole],
      );
      await c.query('SELECT drop_chunks($1::regclass, older_than => $2::bigint)', [
        'telemetry',
        whole,
      ]);
      return rows[0]!.n;
    });
  }
}
