import type { TelemetryBatch } from './telemetry-batch.js';
import type { RetentionDelete } from './telemetry-writer.js';

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
  | (RetentionDelete & { seq: number })
  /** Closes the worker's connection; the worker then ends. */
  | { type: 'close'; seq: number };

/** `changes`: rows a delete removed. */
export type WorkerReply =
  | { seq: number; ok: true; changes?: number }
  | { seq: number; ok: false; error: { name: string; message: string; code?: string } };
