import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import type { TelemetryPoint } from '../../src/store/ports.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { decodeBatch, encodeBatch } from '../../src/store/sqlite/telemetry-batch.js';
import { ManualClock } from '../../src/util/clock.js';
import { tempDir } from '../helpers/tmp.js';

/** Resolves once `check` holds (checked each turn of the event loop). */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 5));
}

const T0 = 1_700_006_400_000;
const points = (n: number, from = 0): TelemetryPoint[] =>
  Array.from({ length: n }, (_, i) => ({
    deviceId: `d${(from + i) % 7}`,
    path: '/3303/0/5700',
    ts: T0 + from + i,
    value: from + i,
  }));

function rows(store: SqliteStore): { n: number; distinct: number } {
  return store.db
    .prepare('SELECT COUNT(*) AS n, COUNT(DISTINCT ts) AS "distinct" FROM telemetry')
    .get() as {
    n: number;
    distinct: number;
  };
}

/** Points counted by the minute rollups: each point added to its bucket once. */
function rolledUp(store: SqliteStore): number {
  return (
    store.db
      .prepare(
        'SELECT COALESCE(SUM(count), 0) AS n FROM telemetry_rollups WHERE resolution = 60000',
      )
      .get() as { n: number }
  ).n;
}

describe('sqlite telemetry batches cross to the worker as columns', () => {
  test('every kind of value comes back as it went', () => {
    const batch: TelemetryPoint[] = [
      { deviceId: 'a', path: '/3/0/9', ts: 1, value: 88 },
      { deviceId: 'b', path: '/3/0/9', ts: 2, value: 'on' },
      { deviceId: 'a', path: '/3/0/1', ts: 3, value: true },
      { deviceId: 'a', path: '/3/0/9', ts: 4, value: null },
      { deviceId: 'c', path: '/3/0/9', ts: 5, value: -0.5 },
      { deviceId: 'c', path: '/3/0/9', ts: 6, value: Number.NaN },
      { deviceId: 'c', path: '/3/0/9', ts: 7, value: false },
    ];
    const { batch: columns, transfer } = encodeBatch(batch);
    assert.deepEqual(columns.strings, ['a', '/3/0/9', 'b', '/3/0/1', 'c'], 'each string once');
    assert.equal(transfer.length, 3);
    assert.deepEqual(decodeBatch(columns), batch);
  });
});

describe('sqlite telemetry worker', () => {
  test('writes on a worker thread for a file database, not for :memory:', async (t) => {
    const file = new SqliteStore({ dataDir: tempDir(t) });
    const memory = new SqliteStore({ dataDir: ':memory:' });
    const off = new SqliteStore({ dataDir: tempDir(t), telemetryWorker: false });
    t.after(() => Promise.all([file.close(), memory.close(), off.close()]));
    assert.ok(file.telemetry.worker);
    assert.equal(memory.telemetry.worker, undefined);
    assert.equal(off.telemetry.worker, undefined);
  });

  test('a query sees every point appended before it (read-your-writes)', async (t) => {
    const store = new SqliteStore({ dataDir: tempDir(t), batchSize: 100, flushIntervalMs: 60_000 });
    t.after(() => store.close());
    // Full batches already handed to the worker, and a partial one still buffered.
    store.telemetry.append(points(250));
    store.telemetry.append(points(30, 250));
    assert.ok(store.telemetry.worker);
    const read = await store.telemetry.query({ deviceId: 'd0', limit: 10_000 });
    assert.equal(read.length, points(280).filter((p) => p.deviceId === 'd0').length);
    store.telemetry.append(points(20, 280));
    const buckets = await store.telemetry.buckets({ deviceId: 'd3', intervalMs: 60_000 });
    assert.equal(
      buckets.reduce((n, b) => n + b.count, 0),
      points(300).filter((p) => p.deviceId === 'd3').length,
    );
    assert.equal(store.telemetry.pending, 0);
  });

  test('close writes every point appended, however far it got, and stops the worker', async (t) => {
    const dir = tempDir(t);
    const store = new SqliteStore({ dataDir: dir, batchSize: 500, flushIntervalMs: 60_000 });
    const worker = store.telemetry.worker!;
    let exited = false;
    worker.once('exit', () => {
      exited = true;
    });
    // Two batches in flight, a third in the buffer; nothing awaited before close.
    store.telemetry.append(points(1234));
    await store.close();
    assert.equal(exited, true, 'the worker has ended');
    const reopened = new SqliteStore({ dataDir: dir, telemetryWorker: false });
    t.after(() => reopened.close());
    assert.deepEqual(rows(reopened), { n: 1234, distinct: 1234 });
    assert.equal(rolledUp(reopened), 1234);
  });

  test('when the worker is 16 batches behind, the main thread writes the next batch itself', async (t) => {
    const store = new SqliteStore({ dataDir: tempDir(t), batchSize: 10, flushIntervalMs: 60_000 });
    t.after(() => store.close());
    // No answer from the worker can arrive while this loop runs: 16 batches are in flight,
    // the 4 after them are written here before append returns.
    for (let i = 0; i < 20; i++) store.telemetry.append(points(10, 10 * i));
    const here = store.db
      .prepare('SELECT COUNT(*) AS n FROM telemetry WHERE ts >= ?')
      .get(T0 + 160) as { n: number };
    assert.equal(here.n, 40);
    await store.telemetry.flush();
    assert.deepEqual(rows(store), { n: 200, distinct: 200 });
    assert.equal(rolledUp(store), 200);
  });

  test('a failed batch is reported, counted and written with a later flush', async (t) => {
    const store = new SqliteStore({ dataDir: tempDir(t), flushIntervalMs: 60_000 });
    const errors: unknown[] = [];
    store.onError = (err) => errors.push(err);
    t.after(() => store.close());
    // The worker's insert fails as on a full disk; the transaction is rolled back.
    store.db.exec(`CREATE TRIGGER full BEFORE INSERT ON telemetry
      BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`);
    store.telemetry.append(points(10));
    await assert.rejects(store.telemetry.flush(), /disk is full/);
    assert.equal(errors.length, 1);
    assert.match(String(errors[0]), /disk is full/);
    assert.equal(store.telemetry.failedBatches, 1);
    assert.equal(store.telemetry.pending, 10, 'the batch is back in the buffer');
    assert.deepEqual(rows(store), { n: 0, distinct: 0 });
    assert.equal(rolledUp(store), 0, 'no rollup of a batch that was not written');
    assert.ok(store.telemetry.worker, 'the worker goes on');
    assert.equal(store.health().ok, true);

    store.db.exec('DROP TRIGGER full');
    store.telemetry.append(points(5, 10));
    assert.deepEqual(
      await store.telemetry.query({ deviceId: 'd1' }),
      points(15)
        .filter((p) => p.deviceId === 'd1')
        .reverse(),
    );
    assert.deepEqual(rows(store), { n: 15, distinct: 15 });
    assert.equal(rolledUp(store), 15);
    assert.equal(store.telemetry.dropped, 0);
  });

  test('a worker that dies is reported; telemetry goes on on the main thread, nothing lost', async (t) => {
    const dir = tempDir(t);
    const store = new SqliteStore({ dataDir: dir, batchSize: 200, flushIntervalMs: 60_000 });
    const errors: unknown[] = [];
    store.onError = (err) => errors.push(err);
    store.telemetry.append(points(1000));
    // As an uncaught error in the worker would: it ends with batches unanswered.
    await store.telemetry.worker!.terminate();
    await store.telemetry.flush().catch(() => undefined);
    assert.equal(store.telemetry.worker, undefined, 'no worker any more');
    assert.ok(
      errors.some((e) => /telemetry worker stopped/.test(String(e))),
      'the death is reported',
    );
    store.telemetry.append(points(500, 1000));
    await store.telemetry.flush();
    // A batch that the worker committed just before it ended, unanswered, is written again:
    // at least once, every point.
    assert.equal(rows(store).distinct, 1500);
    await store.close();
    const reopened = new SqliteStore({ dataDir: dir, telemetryWorker: false });
    t.after(() => reopened.close());
    assert.equal(rows(reopened).distinct, 1500);
  });

  test('a worker that dies is replaced after a back-off that doubles while new ones die young', async (t) => {
    const clock = new ManualClock(T0);
    const store = new SqliteStore({ dataDir: tempDir(t), clock, flushIntervalMs: 60_000 });
    const errors: unknown[] = [];
    store.onError = (err) => errors.push(err);
    t.after(() => store.close());
    /** Ends the worker; returns what was reported of its loss. */
    const kill = async () => {
      const before = errors.length;
      await store.telemetry.worker!.terminate();
      const lost = () => errors.slice(before).find((e) => /worker stopped/.test(String(e)));
      await until(() => lost() !== undefined);
      return String(lost());
    };
    assert.match(await kill(), /a new worker starts in 1 s/);
    assert.equal(store.telemetry.worker, undefined);
    clock.advance(999);
    assert.equal(store.telemetry.worker, undefined, 'not before the back-off');
    clock.advance(1);
    assert.ok(store.telemetry.worker, 'a new worker after 1 s');
    assert.match(await kill(), /a new worker starts in 2 s/, 'it died young: twice as long');
    clock.advance(2000);
    assert.ok(store.telemetry.worker);
    clock.advance(300_001);
    assert.match(await kill(), /a new worker starts in 1 s/, 'it lasted: back to 1 s');
    clock.advance(1000);
    // The new worker writes: the points reach the file through it.
    store.telemetry.append(points(10));
    await store.telemetry.flush();
    assert.equal(rows(store).n, 10);
    assert.ok(store.telemetry.worker);
  });

  test('main-thread writes and the worker take turns on the write lock without SQLITE_BUSY', async (t) => {
    const store = new SqliteStore({
      dataDir: tempDir(t),
      batchSize: 50_000,
      flushIntervalMs: 60_000,
    });
    const errors: unknown[] = [];
    store.onError = (err) => errors.push(err);
    t.after(() => store.close());

    // The main thread writes while a large batch is being written by the worker...
    store.telemetry.append(points(50_000));
    let settled = false;
    const written = store.telemetry.flush().finally(() => {
      settled = true;
    });
    let created = 0;
    while (!settled) {
      await store.devices.create({ id: `dev${created}`, protocol: 'lwm2m' });
      created++;
      await turn();
    }
    await written;
    assert.ok(created > 0, 'main-thread writes went on while the batch was written');
    assert.equal(await store.devices.count(), created);

    // ...and the worker waits for a write transaction the main thread holds.
    store.db.exec('BEGIN IMMEDIATE');
    await store.devices.create({ id: 'in-transaction', protocol: 'mqtt' });
    store.telemetry.append(points(100, 50_000));
    const second = store.telemetry.flush();
    await new Promise((resolve) => setTimeout(resolve, 50));
    store.db.exec('COMMIT');
    await second;

    assert.deepEqual(rows(store), { n: 50_100, distinct: 50_100 });
    assert.equal(store.telemetry.failedBatches, 0);
    assert.deepEqual(errors, []);
  });
});
