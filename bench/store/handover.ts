/**
 * What it costs the main thread to hand one telemetry batch to a worker thread, by format:
 * the points as they are (structured clone of one object per point), columns (an array per
 * column, the timestamps a transferred Float64Array), columns with the device ids and paths
 * interned (a small table of distinct strings and Uint32 indices), the same with the strings
 * joined into one (`packed`), the store's own TelemetryBatch (`batch`: interned, numeric values
 * in a transferred Float64Array too), and one JSON string.
 * The cost counted is the main thread's: building the message and postMessage (which
 * serialises synchronously); the worker's decoding is reported beside it.
 *
 *   node --import tsx bench/store/handover.ts [batches] [--batch N]
 */
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort } from 'node:worker_threads';
import { encodeBatch } from '../../src/store/sqlite/telemetry-batch.js';
import { startWorker } from '../../src/util/worker.js';

type Point = {
  deviceId: string;
  path: string;
  ts: number;
  value: number | string | boolean | null;
};

interface Columns {
  deviceIds: string[];
  paths: string[];
  ts: Float64Array;
  values: Point['value'][];
}

function columns(points: readonly Point[]): Columns {
  const n = points.length;
  const c: Columns = {
    deviceIds: new Array(n),
    paths: new Array(n),
    ts: new Float64Array(n),
    values: new Array(n),
  };
  for (let i = 0; i < n; i++) {
    const p = points[i]!;
    c.deviceIds[i] = p.deviceId;
    c.paths[i] = p.path;
    c.ts[i] = p.ts;
    c.values[i] = p.value;
  }
  return c;
}

function interned(points: readonly Point[]) {
  const n = points.length;
  const strings: string[] = [];
  const index = new Map<string, number>();
  const id = (s: string) => {
    let i = index.get(s);
    if (i === undefined) {
      i = strings.length;
      strings.push(s);
      index.set(s, i);
    }
    return i;
  };
  const keys = new Uint32Array(2 * n);
  const ts = new Float64Array(n);
  const values: Point['value'][] = new Array(n);
  for (let i = 0; i < n; i++) {
    const p = points[i]!;
    keys[2 * i] = id(p.deviceId);
    keys[2 * i + 1] = id(p.path);
    ts[i] = p.ts;
    values[i] = p.value;
  }
  return { strings, keys, ts, values };
}

const FORMATS = {
  objects: (p: readonly Point[]) => ({ message: p, transfer: [] as ArrayBuffer[] }),
  columns: (p: readonly Point[]) => {
    const c = columns(p);
    return { message: c, transfer: [c.ts.buffer as ArrayBuffer] };
  },
  interned: (p: readonly Point[]) => {
    const c = interned(p);
    return { message: c, transfer: [c.keys.buffer as ArrayBuffer, c.ts.buffer as ArrayBuffer] };
  },
  // What the SQLite telemetry store sends (src/store/sqlite/telemetry-batch.ts).
  batch: (p: readonly Point[]) => {
    const { batch, transfer } = encodeBatch(p);
    return { message: batch, transfer };
  },
  packed: (p: readonly Point[]) => {
    const c = interned(p);
    const message = { strings: c.strings.join('\0'), keys: c.keys, ts: c.ts, values: c.values };
    return { message, transfer: [c.keys.buffer as ArrayBuffer, c.ts.buffer as ArrayBuffer] };
  },
  empty: (_p: readonly Point[]) => ({ message: {}, transfer: [] as ArrayBuffer[] }),
  json: (p: readonly Point[]) => ({ message: JSON.stringify(p), transfer: [] as ArrayBuffer[] }),
};
type Format = keyof typeof FORMATS;

if (isMainThread) {
  const args = process.argv.slice(2);
  const batches = Number(args.find((a) => /^\d+$/.test(a)) ?? 2000);
  const size = Number(args.includes('--batch') ? args[args.indexOf('--batch') + 1] : 500);
  // 64 devices notifying one temperature each, as the LwM2M benchmark's whole-server rows.
  const batch: Point[] = Array.from({ length: size }, (_, i) => ({
    deviceId: `notify-${i % 64}`,
    path: '/3303/0/5700',
    ts: 1_767_225_600_000 + i,
    value: 20 + (i % 100) / 10,
  }));
  const worker = startWorker(new URL(import.meta.url));
  const results: string[] = [];
  for (const format of Object.keys(FORMATS) as Format[]) {
    const encode = FORMATS[format];
    // Warm up, then measure; every batch is a fresh array of fresh objects, as the buffer's.
    for (let round = 0; round < 2; round++) {
      const fresh = Array.from({ length: batches }, () => batch.map((p) => ({ ...p })));
      worker.postMessage({ format, reset: true });
      let spent = 0;
      for (const points of fresh) {
        const t0 = performance.now();
        const { message, transfer } = encode(points);
        worker.postMessage({ format, message }, transfer);
        spent += performance.now() - t0;
      }
      worker.postMessage({ format, report: true });
      const [decodeMs] = (await once(worker, 'message')) as [number];
      if (round === 1) {
        results.push(
          `| ${format} | ${((spent * 1000) / batches).toFixed(1)} | ${((spent * 1e6) / batches / size).toFixed(0)} | ${((decodeMs * 1000) / batches).toFixed(1)} |`,
        );
      }
    }
  }
  await worker.terminate();
  console.log(`${batches} batches of ${size} points\n`);
  console.log('| format | main thread µs/batch | ns/point | worker JSON.parse µs/batch |');
  console.log('|---|---:|---:|---:|');
  for (const r of results) console.log(r);
} else {
  // The worker's side: whatever it takes to get points back (rows for the insert statement).
  let decodeMs = 0;
  parentPort!.on(
    'message',
    (m: { format: Format; message?: unknown; reset?: true; report?: true }) => {
      if (m.reset) decodeMs = 0;
      else if (m.report) parentPort!.postMessage(decodeMs);
      else {
        const t0 = performance.now();
        if (m.format === 'json') JSON.parse(m.message as string);
        decodeMs += performance.now() - t0;
      }
    },
  );
}
