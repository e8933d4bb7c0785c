import type { TelemetryPoint, TelemetryValue } from '../ports.js';

/**
 * A batch of telemetry points as it crosses to the telemetry worker: columns rather than one
 * object per point. postMessage clones synchronously on the sending thread, and cloning 500
 * small objects costs about three times more than this form (bench/store/handover.ts): each
 * distinct device id and path is sent once, timestamps and numeric values travel in typed
 * arrays whose buffers are transferred, not copied, and the rare other value (string,
 * boolean, null) goes beside them with its index.
 */
export interface TelemetryBatch {
  /** The distinct device ids and paths of the batch. */
  strings: string[];
  /** Per point, the index in `strings` of its device id, then of its path. */
  keys: Uint32Array;
  ts: Float64Array;
  /** Per point, its value when that is a number (else 0, and the value is in `others`). */
  numbers: Float64Array;
  /** `[index, value]` of each point whose value is not a number. */
  others: [number, TelemetryValue][];
}

export function encodeBatch(points: readonly TelemetryPoint[]): {
  batch: TelemetryBatch;
  transfer: ArrayBuffer[];
} {
  const n = points.length;
  const strings: string[] = [];
  const index = new Map<string, number>();
  const intern = (s: string): number => {
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
  const numbers = new Float64Array(n);
  const others: [number, TelemetryValue][] = [];
  for (let i = 0; i < n; i++) {
    const p = points[i]!;
    keys[2 * i] = intern(p.deviceId);
    keys[2 * i + 1] = intern(p.path);
    ts[i] = p.ts;
    if (typeof p.value === 'number') numbers[i] = p.value;
    else others.push([i, p.value]);
  }
  return {
    batch: { strings, keys, ts, numbers, others },
    transfer: [keys.buffer, ts.buffer, numbers.buffer] as ArrayBuffer[],
  };
}

export function decodeBatch(batch: TelemetryBatch): TelemetryPoint[] {
  const { strings, keys, ts, numbers, others } = batch;
  const points: TelemetryPoint[] = new Array(ts.length);
  for (let i = 0; i < ts.length; i++) {
    points[i] = {
      deviceId: strings[keys[2 * i]!]!,
      path: strings[keys[2 * i + 1]!]!,
      ts: ts[i]!,
      value: numbers[i]!,
    };
  }
  for (const [i, value] of others) points[i]!.value = value;
  return points;
}
