/**
 * What telemetry ingest costs the main thread's other SQLite writes (registrations, devices, the
 * MQTT broker's durable state), with telemetry written by the worker thread and on the main
 * thread (`storage.telemetryWorker`). For 8 s the main thread appends telemetry at `rate` points/s
 * and writes one device row every 4 ms; it reports how long those writes took (with the worker
 * they may wait for its write lock: SQLite's busy handler sleeps 1, 2, 5, 10... ms between
 * tries), the points written, and the event loop's delay (in-thread, the batch commits block it).
 *
 *   node --import tsx bench/store/contention.ts [rate...]      (default: 20000 40000)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { SqliteStore } from '../../src/store/sqlite/index.js';

const DURATION_MS = 8000;

async function run(rate: number, telemetryWorker: boolean) {
  const dataDir = mkdtempSync(join(tmpdir(), 'tandem-contention-'));
  const store = new SqliteStore({ dataDir, telemetryWorker });
  const insert = store.db.prepare(
    'INSERT INTO devices (id, protocol, created_at, updated_at) VALUES (?, ?, 0, 0)',
  );
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const end = Date.now() + DURATION_MS;
  const t0 = Date.now();
  let points = 0;
  const ingest = setInterval(() => {
    const batch = [];
    for (let k = 0; k < rate / 100; k++) {
      batch.push({ deviceId: `d${k % 500}`, path: '/3303/0/5700', ts: t0 + points++, value: k });
    }
    store.telemetry.append(batch);
  }, 10);
  const waits: number[] = [];
  const writes = setInterval(() => {
    const start = process.hrtime.bigint();
    insert.run(`dev${waits.length}`, 'lwm2m');
    waits.push(Number(process.hrtime.bigint() - start) / 1e6);
  }, 4);
  await new Promise((resolve) => setTimeout(resolve, end - Date.now()));
  clearInterval(ingest);
  clearInterval(writes);
  loop.disable();
  await store.close();
  rmSync(dataDir, { recursive: true, force: true });
  waits.sort((a, b) => a - b);
  const q = (p: number) => waits[Math.floor(p * (waits.length - 1))]!;
  return {
    writer: telemetryWorker ? 'worker' : 'main thread',
    pointsPerSecond: Math.round(points / (DURATION_MS / 1000)),
    write: { p50: q(0.5), p90: q(0.9), p99: q(0.99), max: q(1) },
    loopDelay: { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6 },
  };
}

const rates = process.argv.slice(2).map(Number);
const ms = (v: number) => v.toFixed(2);
console.log(
  '| asked points/s | telemetry writer | points/s appended | device write p50 / p90 / p99 / max (ms) | event loop delay p50 / p99 (ms) |',
);
console.log('|---:|---|---:|---|---|');
for (const rate of rates.length > 0 ? rates : [20_000, 40_000]) {
  for (const worker of [true, false]) {
    const r = await run(rate, worker);
    const w = r.write;
    console.log(
      `| ${rate} | ${r.writer} | ${r.pointsPerSecond} | ${ms(w.p50)} / ${ms(w.p90)} / ${ms(w.p99)} / ${ms(w.max)} | ${ms(r.loopDelay.p50)} / ${ms(r.loopDelay.p99)} |`,
    );
  }
}
