import type { TelemetryBatch } from './telemetry-batch.js';

/** The messages between the telemetry store and its worker (telemetry-worker.ts). */

export interface WorkerSettings {
  /** The database file; the store has created and migrated it. */
  path: string;
  /** Rollup widths (ms) every batch is added to. */
  intervals: readonly number[];
  busyTimeoutMs: number;
}

/** To the worker, answered in order, each by one WorkerReply with the same `seq`. */
export type WorkerRequest =
  | { type: 'open'; seq: number; settings: WorkerSettings }
  | { type: 'write'; seq: number; batch: TelemetryBatch }
  | { type: 'deletePoints'; seq: number; olderThan: number; limit: number }
  | { type: 'deleteBuckets'; seq: number; intervalMs: number; endsBy: number; limit: number }
  | { type: 'deleteOtherBuckets'; seq: number; kept: readonly number[]; limit: number }
  /** Closes the worker's connection; the worker then ends. */
  | { type: 'close'; seq: number };

/** `changes`: rows a delete removed. */
export type WorkerReply =
  | { seq: number; ok: true; changes?: number }
  | { seq: number; ok: false; error: { name: string; message: string; code?: string } };
