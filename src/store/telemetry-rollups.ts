import type { Clock, TimerHandle } from '../util/clock.js';
import { formatDuration } from '../util/duration.js';
import {
  type TelemetryBucket,
  type TelemetryBucketQuery,
  type TelemetryExpiry,
  TelemetryIntervalError,
  type TelemetryPoint,
  type TelemetryValue,
} from './ports.js';

/**
 * Retention and downsampling, shared by every TelemetryStore backend: which buckets a batch of
 * points adds to, which kept interval answers a bucket query, and the sweep that deletes
 * expired rows in small batches off the ingest path.
 */

const DAY = 86_400_000;

export interface TelemetryRetention {
  /** Raw points older than this (ms) are deleted. */
  rawMs: number;
  /** Bucket widths (ms) and how long buckets of each width are kept. */
  rollups: readonly { intervalMs: number; retentionMs: number }[];
  /** Time between two retention sweeps (ms). */
  sweepIntervalMs: number;
  /** Rows deleted per statement; the sweep yields to other work between statements. */
  sweepBatch: number;
}

export const DEFAULT_RETENTION: TelemetryRetention = {
  rawMs: 30 * DAY,
  rollups: [
    { intervalMs: 60_000, retentionMs: 90 * DAY },
    { intervalMs: 3_600_000, retentionMs: 730 * DAY },
  ],
  sweepIntervalMs: 60_000,
  sweepBatch: 500,
};

/** What one batch of points adds to one bucket; backends merge it into the stored bucket. */
export interface RollupDelta {
  deviceId: string;
  path: string;
  intervalMs: number;
  bucket: number;
  count: number;
  /** Count, sum, min and max of the numeric values only. */
  numCount: number;
  sum: number;
  min: number | null;
  max: number | null;
  last: TelemetryValue;
  lastTs: number;
}

/**
 * The batch folded into one delta per device, path, interval and bucket, so that a bucket is
 * written once per batch however many points fell in it. Of points with the same timestamp the
 * later one in the batch is the bucket's last.
 */
export function rollupDeltas(
  points: readonly TelemetryPoint[],
  intervals: readonly number[],
): RollupDelta[] {
  const deltas = new Map<string, RollupDelta>();
  for (const p of points) {
    const numeric = typeof p.value === 'number' && Number.isFinite(p.value) ? p.value : undefined;
    for (const intervalMs of intervals) {
      const bucket = p.ts - (((p.ts % intervalMs) + intervalMs) % intervalMs);
      const key = `${intervalMs}\0${bucket}\0${p.deviceId}\0${p.path}`;
      let d = deltas.get(key);
      if (!d) {
        d = {
          deviceId: p.deviceId,
          path: p.path,
          intervalMs,
          bucket,
          count: 0,
          numCount: 0,
          sum: 0,
          min: null,
          max: null,
          last: p.value,
          lastTs: p.ts,
        };
        deltas.set(key, d);
      }
      d.count++;
      if (p.ts >= d.lastTs) {
        d.last = p.value;
        d.lastTs = p.ts;
      }
      if (numeric !== undefined) {
        d.numCount++;
        d.sum += numeric;
        d.min = d.min === null ? numeric : Math.min(d.min, numeric);
        d.max = d.max === null ? numeric : Math.max(d.max, numeric);
      }
    }
  }
  return [...deltas.values()];
}

/**
 * The kept interval that answers a query for buckets of `intervalMs`: the coarsest one that
 * divides it (fewest rows to merge). Throws TelemetryIntervalError naming the kept ones.
 */
export function sourceInterval(intervalMs: number, kept: readonly number[]): number {
  const source = kept.filter((k) => intervalMs % k === 0).at(-1);
  if (source === undefined || !Number.isSafeInteger(intervalMs) || intervalMs <= 0) {
    const names = kept.map(formatDuration).join(', ');
    throw new TelemetryIntervalError(
      kept.length === 0
        ? 'no rollups are kept (telemetry.rollups is empty)'
        : `the interval must be a multiple of a kept rollup interval: ${names}`,
    );
  }
  return source;
}

const MAX_QUERY = 10_000;

/** The number of rows a query may return: 1000 unless asked, at most 10,000. */
export function queryLimit(limit: number | undefined): number {
  return Math.min(Math.max(Math.trunc(limit ?? 1000), 1), MAX_QUERY);
}

/**
 * The bucket query on table `telemetry_rollups` in the SQL that SQLite and Postgres share:
 * the kept buckets of the asked interval, or those of the source interval merged into buckets
 * of the asked one, `last` taken from the merged bucket whose last point is the latest. `param` writes the placeholder of a
 * named parameter in the backend's syntax.
 */
export function bucketQuery(
  q: TelemetryBucketQuery,
  kept: readonly number[],
  param: (name: string) => string,
): { sql: string; params: Record<string, unknown> } {
  const source = sourceInterval(q.intervalMs, kept);
  const i = q.intervalMs;
  // Only the parameters the statement names are passed (SQLite refuses others).
  const params: Record<string, unknown> = {};
  const use = (name: string, value: unknown) => {
    params[name] = value;
    return param(name);
  };
  const where = [`device_id = ${use('d', q.deviceId)}`, `resolution = ${use('r', source)}`];
  if (q.path !== undefined) where.push(`path = ${use('p', q.path)}`);
  // Whole buckets of the asked interval: from rounded down, to extended to its bucket's end.
  if (q.from !== undefined) where.push(`bucket >= ${use('f', q.from - (((q.from % i) + i) % i))}`);
  if (q.to !== undefined) where.push(`bucket < ${use('t', q.to - (((q.to % i) + i) % i) + i)}`);
  const from = `FROM telemetry_rollups WHERE ${where.join(' AND ')}`;
  const limit = `LIMIT ${queryLimit(q.limit)}`;
  if (source === i) {
    // The kept buckets as they are: nothing to merge.
    const sql = `SELECT path, bucket AS ts, min, max, sum, num_count, count, last ${from}
      ORDER BY bucket DESC, path ${limit}`;
    return { sql, params };
  }
  const width = use('i', i);
  const sql = `WITH agg AS (
      SELECT path, bucket - bucket % ${width} AS b, MIN(min) AS min, MAX(max) AS max,
        SUM(sum) AS sum, SUM(num_count) AS num_count, SUM(count) AS count
      ${from}
      GROUP BY path, b ORDER BY b DESC, path ${limit}
    )
    SELECT agg.path, agg.b AS ts, agg.min, agg.max, agg.sum, agg.num_count, agg.count,
      (SELECT r.last FROM telemetry_rollups r
        WHERE r.device_id = ${param('d')} AND r.resolution = ${param('r')} AND r.path = agg.path
          AND r.bucket >= agg.b AND r.bucket < agg.b + ${width}
        ORDER BY r.last_ts DESC LIMIT 1) AS last
    FROM agg ORDER BY agg.b DESC, agg.path`;
  return { sql, params };
}

/** One merged bucket as both backends' bucket query returns it. */
export interface BucketRow {
  path: string;
  ts: number | string;
  min: number | null;
  max: number | null;
  sum: number | null;
  num_count: number | string;
  count: number | string;
  /** JSON, as `telemetry.value`. */
  last: string;
}

export function bucketFromRow(r: BucketRow): TelemetryBucket {
  const numCount = Number(r.num_count);
  return {
    path: r.path,
    ts: Number(r.ts),
    min: r.min,
    max: r.max,
    avg: numCount > 0 && r.sum !== null ? r.sum / numCount : null,
    count: Number(r.count),
    last: JSON.parse(r.last) as TelemetryValue,
  };
}

/** A backend's delete statements, each removing at most `limit` rows and returning how many. */
export interface ExpiryTarget {
  deletePoints(olderThan: number, limit: number): number | Promise<number>;
  /** Buckets of this interval that end at or before `endsBy`. */
  deleteBuckets(intervalMs: number, endsBy: number, limit: number): number | Promise<number>;
  /** Buckets of intervals no longer kept (the configuration changed). */
  deleteOtherBuckets(kept: readonly number[], limit: number): number | Promise<number>;
}

type Step = { kind: 'points' | 'buckets'; run: (limit: number) => number | Promise<number> };

/**
 * Deletes expired points and buckets every `sweepIntervalMs`, one batch per timer turn, so a
 * sweep never holds the database (or the event loop) for longer than one small statement.
 */
export class RetentionSweeper {
  readonly #target: ExpiryTarget;
  readonly #retention: TelemetryRetention;
  readonly #clock: Clock;
  readonly #onError: (err: unknown) => void;
  #timer: TimerHandle | undefined;
  #steps: Step[] = [];
  #points = 0;
  #buckets = 0;
  #closed = false;
  /** The sweep run by sweep(), so that two never overlap. */
  #running: Promise<void> | undefined;

  constructor(
    target: ExpiryTarget,
    options: { retention: TelemetryRetention; clock: Clock; onError: (err: unknown) => void },
  ) {
    this.#target = target;
    this.#retention = options.retention;
    this.#clock = options.clock;
    this.#onError = options.onError;
    this.#schedule(this.#retention.sweepIntervalMs);
  }

  get expired(): TelemetryExpiry {
    return { points: this.#points, buckets: this.#buckets };
  }

  /** Runs a whole sweep now, batch after batch; resolves when nothing expired is left. */
  sweep(): Promise<void> {
    this.#running ??= (async () => {
      try {
        for (const step of this.#plan()) {
          for (;;) {
            const n = await step.run(this.#retention.sweepBatch);
            this.#count(step, n);
            if (n < this.#retention.sweepBatch) break;
          }
        }
      } finally {
        this.#running = undefined;
      }
    })();
    return this.#running;
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #plan(): Step[] {
    const now = this.#clock.now();
    const { rawMs, rollups } = this.#retention;
    const t = this.#target;
    return [
      { kind: 'points', run: (limit) => t.deletePoints(now - rawMs, limit) },
      ...rollups.map(
        (r): Step => ({
          kind: 'buckets',
          run: (limit) => t.deleteBuckets(r.intervalMs, now - r.retentionMs, limit),
        }),
      ),
      {
        kind: 'buckets',
        run: (limit) =>
          t.deleteOtherBuckets(
            rollups.map((r) => r.intervalMs),
            limit,
          ),
      },
    ];
  }

  #count(step: Step, n: number): void {
    if (step.kind === 'points') this.#points += n;
    else this.#buckets += n;
  }

  #schedule(ms: number): void {
    if (this.#closed) return;
    this.#timer = this.#clock.setTimeout(() => this.#tick(), ms);
    this.#timer.unref?.();
  }

  /** One batch of the current sweep; a full batch means more may be left: go on at once. */
  #tick(): void {
    this.#timer = undefined;
    if (this.#steps.length === 0) this.#steps = this.#plan();
    const step = this.#steps[0]!;
    const after = (n: number) => {
      this.#count(step, n);
      if (n < this.#retention.sweepBatch) this.#steps.shift();
      this.#schedule(this.#steps.length > 0 ? 0 : this.#retention.sweepIntervalMs);
    };
    const failed = (err: unknown) => {
      this.#onError(err);
      this.#steps = [];
      this.#schedule(this.#retention.sweepIntervalMs);
    };
    try {
      const n = step.run(this.#retention.sweepBatch);
      if (typeof n === 'number') after(n);
      else n.then(after, failed);
    } catch (err) {
      failed(err);
    }
  }
}

/**
 * The write buffer of a telemetry store: `onFull` runs once a batch is full, and
 * `flushIntervalMs` after the first point of a partial batch.
 */
export class TelemetryBuffer {
  points: TelemetryPoint[] = [];
  readonly #clock: Clock;
  readonly #batchSize: number;
  readonly #flushIntervalMs: number;
  readonly #onFull: () => void;
  #timer: TimerHandle | undefined;

  constructor(options: {
    clock: Clock;
    batchSize: number;
    flushIntervalMs: number;
    onFull: () => void;
  }) {
    this.#clock = options.clock;
    this.#batchSize = options.batchSize;
    this.#flushIntervalMs = options.flushIntervalMs;
    this.#onFull = options.onFull;
  }

  add(points: readonly TelemetryPoint[]): void {
    this.points.push(...points);
    if (this.points.length >= this.#batchSize) this.#onFull();
    else if (this.points.length > 0) this.#arm();
  }

  #arm(): void {
    if (this.#timer) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#onFull();
    }, this.#flushIntervalMs);
    this.#timer.unref?.();
  }

  /**
   * Puts a batch that could not be written back in front of the buffer, to go with the next
   * flush (at the latest `flushIntervalMs` from now). Past `maxPending` points the oldest are
   * dropped, so that a database that keeps failing cannot exhaust memory; returns how many.
   */
  putBack(batch: readonly TelemetryPoint[], maxPending: number): number {
    this.points = batch.concat(this.points);
    const excess = this.points.length - maxPending;
    if (excess > 0) this.points.splice(0, excess);
    // Not at once even when a batch is full: a database that fails keeps failing for a while.
    if (this.points.length > 0) this.#arm();
    return Math.max(excess, 0);
  }

  /** Everything buffered, leaving the buffer empty and its timer stopped. */
  take(): TelemetryPoint[] {
    if (this.#timer) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const batch = this.points;
    this.points = [];
    return batch;
  }
}

/** A row of the raw `telemetry` table, the value as JSON text (both backends). */
export function pointFromRow(r: {
  device_id: string;
  path: string;
  ts: number;
  value: string;
}): TelemetryPoint {
  return {
    deviceId: r.device_id,
    path: r.path,
    ts: r.ts,
    value: JSON.parse(r.value) as TelemetryValue,
  };
}
