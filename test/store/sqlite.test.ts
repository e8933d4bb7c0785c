import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { MIGRATIONS, MigrationError, migrate } from '../../src/store/sqlite/migrations.js';
import { ManualClock } from '../../src/util/clock.js';
import { tempDir } from '../helpers/tmp.js';
import { storeContract } from './contract.js';
import { fileStore } from './sqlite-file.js';
import { TEST_RETENTION, telemetryRollupContract } from './telemetry-contract.js';

storeContract('sqlite (memory)', async () => new SqliteStore({ dataDir: ':memory:' }));
telemetryRollupContract(
  'sqlite (memory)',
  async ({ clock, retention }) => new SqliteStore({ dataDir: ':memory:', clock, retention }),
);
// A file database: telemetry is written by the worker thread (the default).
storeContract('sqlite (file, telemetry worker)', async () => fileStore());
telemetryRollupContract('sqlite (file, telemetry worker)', async ({ clock, retention }) =>
  fileStore({ clock, retention }),
);

describe('sqlite store', () => {
  test('applies every migration once and records it', (t) => {
    const dir = tempDir(t);
    const first = new SqliteStore({ dataDir: dir });
    assert.equal(first.schemaVersion, MIGRATIONS.at(-1)!.version);
    first.db.close();
    const db = new Database(join(dir, 'tandem.db'));
    const rows = db.prepare('SELECT version FROM schema_migrations ORDER BY version').all();
    assert.deepEqual(
      rows.map((r) => (r as { version: number }).version),
      MIGRATIONS.map((m) => m.version),
    );
    assert.equal(migrate(db), MIGRATIONS.at(-1)!.version, 'a second run is a no-op');
    db.close();
  });

  test('refuses a database written by a newer Tandem', (t) => {
    const dir = tempDir(t);
    new SqliteStore({ dataDir: dir }).db.close();
    const db = new Database(join(dir, 'tandem.db'));
    db.prepare('INSERT INTO schema_migrations VALUES (999, ?, 0)').run('future');
    db.close();
    assert.throws(() => new SqliteStore({ dataDir: dir }), MigrationError);
  });

  test('a failing migration leaves the schema at the previous version', () => {
    const db = new Database(':memory:');
    const broken = [...MIGRATIONS, { version: 99, name: 'broken', sql: 'CREATE TABLE x (; ' }];
    assert.throws(() => migrate(db, broken));
    const v = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number };
    assert.equal(v.v, MIGRATIONS.at(-1)!.version);
    db.close();
  });

  test('telemetry is written when a batch fills or the flush interval passes (no worker)', async (t) => {
    const clock = new ManualClock();
    const store = new SqliteStore({
      dataDir: tempDir(t),
      clock,
      batchSize: 3,
      flushIntervalMs: 1000,
      telemetryWorker: false,
    });
    t.after(() => store.close());
    const point = (ts: number) => ({ deviceId: 'd', path: '/1/0/1', ts, value: ts });
    const written = () =>
      (store.db.prepare('SELECT COUNT(*) AS n FROM telemetry').get() as { n: number }).n;

    store.telemetry.append([point(1), point(2)]);
    assert.equal(written(), 0);
    assert.equal(store.telemetry.pending, 2);
    store.telemetry.append([point(3)]);
    assert.equal(written(), 3, 'a full batch is written at once');

    store.telemetry.append([point(4)]);
    clock.advance(999);
    assert.equal(written(), 3);
    clock.advance(1);
    assert.equal(written(), 4, 'the interval flushes a partial batch');
    assert.equal(clock.pending, 1, 'only the retention sweep is left waiting');
  });

  test('the retention timer deletes expired rows batch by batch, each in its own timer turn', async (t) => {
    const clock = new ManualClock();
    const store = new SqliteStore({ dataDir: ':memory:', clock, retention: TEST_RETENTION });
    t.after(() => store.close());
    const count = (table: string) =>
      (store.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    const start = clock.now();
    store.telemetry.append(
      Array.from({ length: 5 }, (_, i) => ({
        deviceId: 'd',
        path: '/1/0/1',
        ts: start + i,
        value: i,
      })),
    );
    await store.flush();
    assert.equal(count('telemetry'), 5);

    // One sweep interval past the raw retention: the sweep falls due and deletes 2 + 2 + 1.
    clock.advance(TEST_RETENTION.rawMs);
    assert.equal(count('telemetry'), 5, 'no sweep before its interval comes round');
    clock.advance(TEST_RETENTION.sweepIntervalMs);
    assert.equal(count('telemetry'), 0);
    assert.deepEqual(store.telemetry.expired, { points: 5, buckets: 0 });
    assert.equal(count('telemetry_rollups'), 2, 'the minute and the hour bucket stay');
    assert.equal(clock.pending, 1, 'the next sweep waits for its interval');
  });

  test('buckets of an interval no longer configured are deleted', async (t) => {
    const dir = tempDir(t);
    const first = new SqliteStore({ dataDir: dir, retention: TEST_RETENTION });
    first.telemetry.append([{ deviceId: 'd', path: '/1/0/1', ts: Date.now(), value: 1 }]);
    await first.close();
    const hourly = { ...TEST_RETENTION, rollups: TEST_RETENTION.rollups.slice(1) };
    const second = new SqliteStore({ dataDir: dir, retention: hourly });
    t.after(() => second.close());
    await second.telemetry.sweep();
    assert.deepEqual(second.telemetry.expired, { points: 0, buckets: 1 });
    const left = second.db.prepare('SELECT resolution FROM telemetry_rollups').all();
    assert.deepEqual(left, [{ resolution: 3_600_000 }]);
  });

  test('close flushes buffered telemetry to the file', async (t) => {
    const dir = tempDir(t);
    const store = new SqliteStore({ dataDir: dir, flushIntervalMs: 60_000 });
    store.telemetry.append([{ deviceId: 'd', path: '/3/0/9', ts: 5, value: 88 }]);
    await store.close();
    const reopened = new SqliteStore({ dataDir: dir });
    t.after(() => reopened.close());
    assert.deepEqual(await reopened.telemetry.query({ deviceId: 'd' }), [
      { deviceId: 'd', path: '/3/0/9', ts: 5, value: 88 },
    ]);
    assert.equal(store.health().ok, false, 'a closed store reports unhealthy');
  });
});
