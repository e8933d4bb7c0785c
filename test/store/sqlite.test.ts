import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { MIGRATIONS, MigrationError, migrate } from '../../src/store/sqlite/migrations.js';
import { ManualClock } from '../../src/util/clock.js';
import { tempDir } from '../helpers/tmp.js';
import { storeContract } from './contract.js';

storeContract('sqlite (memory)', async () => new SqliteStore({ dataDir: ':memory:' }));

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

  test('telemetry is written when a batch fills or the flush interval passes', async (t) => {
    const clock = new ManualClock();
    const store = new SqliteStore({
      dataDir: tempDir(t),
      clock,
      batchSize: 3,
      flushIntervalMs: 1000,
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
    assert.equal(clock.pending, 0);
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
