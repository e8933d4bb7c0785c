import type { TandemConfig } from '../config/schema.js';
import type { Clock } from '../util/clock.js';
import { PostgresStore } from './postgres/index.js';
import { SqliteStore } from './sqlite/index.js';
import { DEFAULT_RETENTION, type TelemetryRetention } from './telemetry-rollups.js';

/** The retention of `telemetry` in the configuration (durations already in ms). */
export function retentionOf(telemetry: TandemConfig['telemetry']): TelemetryRetention {
  return {
    rawMs: telemetry.retention,
    rollups: telemetry.rollups.map((r) => ({ intervalMs: r.interval, retentionMs: r.retention })),
    sweepIntervalMs: telemetry.sweepInterval,
    sweepBatch: DEFAULT_RETENTION.sweepBatch,
  };
}

/**
 * The store `storage.backend` names. With Postgres, the state that belongs to this node (the
 * broker's sessions, the LwM2M registrations) stays in the embedded SQLite file of `dataDir`.
 * `onError` hears of background writes and retention sweeps that failed.
 */
export async function openStore(
  config: TandemConfig,
  clock: Clock,
  onError: (err: unknown) => void,
): Promise<SqliteStore | PostgresStore> {
  const telemetry = {
    clock,
    batchSize: config.storage.batchSize,
    flushIntervalMs: config.storage.flushIntervalMs,
    retention: retentionOf(config.telemetry),
  };
  // With Postgres the local file holds no telemetry: no worker for it.
  const local = new SqliteStore({
    dataDir: config.dataDir,
    ...telemetry,
    telemetryWorker: config.storage.backend === 'sqlite' && config.storage.telemetryWorker,
  });
  local.onError = onError;
  if (config.storage.backend === 'sqlite') return local;
  // The schema makes postgresUrl required with this backend.
  const store = await PostgresStore.open({ url: config.storage.postgresUrl!, ...telemetry, local });
  store.onError = onError;
  return store;
}
