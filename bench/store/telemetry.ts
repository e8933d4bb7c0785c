/**
 * Telemetry store figures: ingest with and without rollups, a bucket query, and the retention
 * sweep, on SQLite (a file) and Postgres (a throwaway server, as the tests start one).
 *
 *   node --import tsx bench/store/telemetry.ts [points] [--backend sqlite|postgres|both]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Store, TelemetryPoint } from '../../src/store/ports.js';
import { PostgresStore } from '../../src/store/postgres/index.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { DEFAULT_RETENTION, type TelemetryRetention } from '../../src/store/telemetry-rollups.js';
import { type Clock, systemClock } from '../../src/util/clock.js';
import { startPostgres } from '../../test/store/postgres-server.js';

const args = process.argv.slice(2);
const total = Number(args.find((a) => /^\d+$/.test(a)) ?? 200_000);
const backend = args[args.indexOf('--backend') + 1] ?? 'both';
const DEVICES = 100;
const PATHS = ['/3303/0/5700', '/3304/0/5700', '/3/0/9', '/3/0/7', '/6/0/0'];
const START = 1_767_225_600_000; // 2026-01-01

/** One point per device and path every 3.6 s: 200,000 points span two hours. */
function points(): TelemetryPoint[] {
  const out: TelemetryPoint[] = [];
  for (let i = 0; out.length < total; i++) {
    for (let d = 0; d < DEVICES && out.length < total; d++) {
      const path = PATHS[i % PATHS.length]!;
      out.push({ deviceId: `dev${d}`, path, ts: START + i * 3600, value: 20 + (i % 17) / 4 });
    }
  }
  return out;
}

/** Time that the bench moves by hand; the timers are real (the sweep's never falls due here). */
class BenchClock implements Clock {
  at = START;
  now = () => this.at;
  setTimeout = systemClock.setTimeout;
  clearTimeout = systemClock.clearTimeout;
}

async function run(
  name: string,
  open: (clock: Clock, retention: TelemetryRetention) => Promise<Store>,
) {
  const data = points();
  for (const rollups of [[], DEFAULT_RETENTION.rollups]) {
    const clock = new BenchClock();
    const retention = { ...DEFAULT_RETENTION, rollups };
    const store = await open(clock, retention);
    let t = performance.now();
    for (let i = 0; i < data.length; i += 100) store.telemetry.append(data.slice(i, i + 100));
    await store.flush();
    const ingest = performance.now() - t;
    const label = rollups.length === 0 ? 'no rollups' : 'rollups 1m+1h';
    console.log(
      `${name} ${label}: ingest ${Math.round(total / (ingest / 1000)).toLocaleString('en')} points/s`,
    );
    if (rollups.length > 0) {
      // Twice: the first includes planning and a cold cache.
      for (const run of ['first', 'second']) {
        t = performance.now();
        const hours = await store.telemetry.buckets({ deviceId: 'dev7', intervalMs: 3_600_000 });
        const minutes = await store.telemetry.buckets({ deviceId: 'dev7', intervalMs: 60_000 });
        const query = performance.now() - t;
        console.log(
          `${name}: two bucket queries of one device (${hours.length} hourly, ${minutes.length} by minute), ${run} time ${query.toFixed(1)} ms`,
        );
      }
      clock.at += DEFAULT_RETENTION.rawMs + 3 * 3_600_000;
      t = performance.now();
      await store.telemetry.sweep();
      const sweep = performance.now() - t;
      const batches = Math.ceil(store.telemetry.expired.points / DEFAULT_RETENTION.sweepBatch);
      console.log(
        `${name}: sweep of ${store.telemetry.expired.points.toLocaleString('en')} expired points ${Math.round(sweep)} ms, ${(sweep / batches).toFixed(2)} ms per batch of ${DEFAULT_RETENTION.sweepBatch}`,
      );
    }
    await store.close();
  }
}

if (backend !== 'postgres') {
  const dirs: string[] = [];
  await run('sqlite', async (clock, retention) => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-bench-'));
    dirs.push(dir);
    return new SqliteStore({ dataDir: dir, clock, retention });
  });
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}
if (backend !== 'sqlite') {
  const server = await startPostgres();
  try {
    await run('postgres', async (clock, retention) =>
      PostgresStore.open({ url: await server.createDatabase(), clock, retention }),
    );
  } finally {
    await server.stop();
  }
}
