import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Store, TelemetryIntervalError, type TelemetryPoint } from '../../src/store/ports.js';
import type { TelemetryRetention } from '../../src/store/telemetry-rollups.js';
import { ManualClock } from '../../src/util/clock.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** A whole day, so that minute and hour buckets start on it. */
const T0 = 1_700_006_400_000;

export const TEST_RETENTION: TelemetryRetention = {
  rawMs: HOUR,
  rollups: [
    { intervalMs: MIN, retentionMs: DAY },
    { intervalMs: HOUR, retentionMs: 30 * DAY },
  ],
  sweepIntervalMs: 10 * MIN,
  // Small, so that each sweep needs several batches.
  sweepBatch: 2,
};

/** A fresh, empty store with this clock and retention. */
export type RetentionStoreFactory = (options: {
  clock: ManualClock;
  retention: TelemetryRetention;
}) => Promise<Store>;

const point = (ts: number, value: TelemetryPoint['value'], path = '/3303/0/5700') => ({
  deviceId: 'd',
  path,
  ts,
  value,
});

/** Downsampling and retention, owed by every TelemetryStore (src/store/telemetry-rollups.ts). */
export function telemetryRollupContract(backend: string, open: RetentionStoreFactory): void {
  describe(`${backend} telemetry rollups and retention`, () => {
    const withStore = (name: string, fn: (store: Store, clock: ManualClock) => Promise<void>) =>
      test(name, async () => {
        const clock = new ManualClock(T0 + 2 * HOUR);
        const store = await open({ clock, retention: TEST_RETENTION });
        try {
          await fn(store, clock);
        } finally {
          await store.close();
        }
      });

    withStore('buckets hold min, max, avg, count and last of each minute', async (store) => {
      assert.deepEqual(store.telemetry.intervals, [MIN, HOUR]);
      store.telemetry.append([
        point(T0 + 1000, 20),
        point(T0 + 3000, 22),
        point(T0 + 2000, 24),
        point(T0 + MIN + 5, 30),
        point(T0 + 10, 'Acme', '/3/0/0'),
        point(T0 + 20, true, '/3/0/0'),
      ]);
      const buckets = await store.telemetry.buckets({ deviceId: 'd', intervalMs: MIN });
      assert.deepEqual(buckets, [
        { path: '/3303/0/5700', ts: T0 + MIN, min: 30, max: 30, avg: 30, count: 1, last: 30 },
        { path: '/3/0/0', ts: T0, min: null, max: null, avg: null, count: 2, last: true },
        // The last point is the one with the latest timestamp, not the last one appended.
        { path: '/3303/0/5700', ts: T0, min: 20, max: 24, avg: 22, count: 3, last: 22 },
      ]);
    });

    withStore('a bucket grows with each batch without a rescan of the points', async (store) => {
      store.telemetry.append([point(T0 + 1000, 10), point(T0 + 2000, 'off')]);
      await store.flush();
      store.telemetry.append([point(T0 + 500, 4), point(T0 + 4000, 16)]);
      await store.flush();
      store.telemetry.append([point(T0 + 3000, null)]);
      const [minute] = await store.telemetry.buckets({ deviceId: 'd', intervalMs: MIN });
      assert.deepEqual(minute, {
        path: '/3303/0/5700',
        ts: T0,
        min: 4,
        max: 16,
        avg: 10,
        count: 5,
        last: 16,
      });
    });

    withStore('wider intervals merge the coarsest kept buckets that divide them', async (store) => {
      store.telemetry.append([
        point(T0 + 1 * MIN, 1),
        point(T0 + 4 * MIN, 5),
        point(T0 + 6 * MIN, 7),
        point(T0 + HOUR + 1, 100),
        point(T0 + 2 * HOUR + 1, 200),
      ]);
      const fiveMinutes = await store.telemetry.buckets({
        deviceId: 'd',
        intervalMs: 5 * MIN,
        to: T0 + HOUR - 1,
      });
      assert.deepEqual(fiveMinutes, [
        { path: '/3303/0/5700', ts: T0 + 5 * MIN, min: 7, max: 7, avg: 7, count: 1, last: 7 },
        { path: '/3303/0/5700', ts: T0, min: 1, max: 5, avg: 3, count: 2, last: 5 },
      ]);
      const twoHours = await store.telemetry.buckets({ deviceId: 'd', intervalMs: 2 * HOUR });
      assert.deepEqual(
        twoHours.map((b) => [b.ts, b.count, b.last, b.avg]),
        [
          [T0 + 2 * HOUR, 1, 200, 200],
          [T0, 4, 100, 113 / 4],
        ],
      );
      await assert.rejects(
        store.telemetry.buckets({ deviceId: 'd', intervalMs: 90_000 }),
        (err: unknown) => err instanceof TelemetryIntervalError && /1m, 1h/.test(err.message),
      );
    });

    withStore('bucket queries filter by path and whole buckets of the range', async (store) => {
      store.telemetry.append([
        point(T0 + 10, 1),
        point(T0 + MIN + 10, 2),
        point(T0 + 2 * MIN + 10, 3),
        point(T0 + MIN + 20, 'x', '/3/0/0'),
        { ...point(T0 + MIN, 9), deviceId: 'other' },
      ]);
      const range = await store.telemetry.buckets({
        deviceId: 'd',
        intervalMs: MIN,
        // Inside the first and the second minute: both buckets are returned whole.
        from: T0 + 30,
        to: T0 + MIN + 1,
      });
      assert.deepEqual(
        range.map((b) => [b.path, b.ts, b.count]),
        [
          ['/3/0/0', T0 + MIN, 1],
          ['/3303/0/5700', T0 + MIN, 1],
          ['/3303/0/5700', T0, 1],
        ],
      );
      const onePath = await store.telemetry.buckets({
        deviceId: 'd',
        intervalMs: MIN,
        path: '/3303/0/5700',
        limit: 2,
      });
      assert.deepEqual(
        onePath.map((b) => b.last),
        [3, 2],
      );
      assert.deepEqual(await store.telemetry.buckets({ deviceId: 'none', intervalMs: MIN }), []);
    });

    withStore(
      'raw points expire after their retention, buckets after theirs',
      async (store, clock) => {
        // Five points in the first minute two hours ago, two in the last minute.
        store.telemetry.append([
          ...[1, 2, 3, 4, 5].map((s) => point(T0 + s * 1000, s)),
          point(clock.now() - 2000, 50),
          point(clock.now() - 1000, 60),
        ]);
        await store.telemetry.sweep();
        assert.deepEqual(store.telemetry.expired, { points: 5, buckets: 0 });
        assert.deepEqual(
          (await store.telemetry.query({ deviceId: 'd' })).map((p) => p.value),
          [60, 50],
        );
        const old = await store.telemetry.buckets({ deviceId: 'd', intervalMs: MIN, to: T0 + MIN });
        assert.deepEqual(old, [
          { path: '/3303/0/5700', ts: T0, min: 1, max: 5, avg: 3, count: 5, last: 5 },
        ]);

        clock.advance(DAY);
        await store.telemetry.sweep();
        assert.deepEqual(await store.telemetry.query({ deviceId: 'd' }), []);
        assert.deepEqual(await store.telemetry.buckets({ deviceId: 'd', intervalMs: MIN }), []);
        assert.deepEqual(
          (await store.telemetry.buckets({ deviceId: 'd', intervalMs: HOUR })).map((b) => [
            b.ts,
            b.count,
          ]),
          [
            [T0 + HOUR, 2],
            [T0, 5],
          ],
        );
        assert.deepEqual(store.telemetry.expired, { points: 7, buckets: 2 });
      },
    );
  });
}
