import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { PostgresStore, type PostgresStoreOptions } from '../../src/store/postgres/index.js';
import { migratePostgres, PG_MIGRATIONS } from '../../src/store/postgres/migrations.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { MigrationError } from '../../src/store/sqlite/migrations.js';
import { startTandem } from '../helpers/tandem.js';
import { bootstrapConfigStoreContract } from '../lwm2m/bootstrap/config-store-contract.js';
import { commandStoreContract } from './command-store-contract.js';
import { storeContract } from './contract.js';
import { startPostgres } from './postgres-server.js';
import { profileStoreContract } from './profile-store-contract.js';
import { TEST_RETENTION, telemetryRollupContract } from './telemetry-contract.js';
import { webhookStoreContract } from './webhook-store-contract.js';

// One server for this file, a fresh database for every store. Without the server programs this
// fails (startPostgres says which package to install): the test command installs them.
const server = await startPostgres();
const opened: PostgresStore[] = [];
after(async () => {
  try {
    await Promise.allSettled(opened.map((s) => s.close()));
  } finally {
    await server.stop();
  }
});

async function open(options: Partial<PostgresStoreOptions> = {}): Promise<PostgresStore> {
  const store = await PostgresStore.open({ url: await server.createDatabase(), ...options });
  opened.push(store);
  return store;
}

storeContract('postgres', () => open());
telemetryRollupContract('postgres', ({ clock, retention }) => open({ clock, retention }));
bootstrapConfigStoreContract('postgres', async () => (await open()).bootstrapConfigs);
commandStoreContract('postgres', () => open());
webhookStoreContract('postgres', () => open());
profileStoreContract('postgres', () => open());

describe('postgres store', () => {
  test('applies its migrations once, and a second node opening the database changes nothing', async () => {
    const url = await server.createDatabase();
    const [a, b] = await Promise.all([PostgresStore.open({ url }), PostgresStore.open({ url })]);
    opened.push(a, b);
    assert.equal(a.schemaVersion, PG_MIGRATIONS.at(-1)!.version);
    const { rows } = await a.pool.query('SELECT version FROM schema_migrations ORDER BY version');
    assert.deepEqual(
      rows.map((r) => r.version),
      PG_MIGRATIONS.map((m) => m.version),
    );
    assert.equal(a.timescale, false, 'this server has no TimescaleDB: plain tables');
    assert.deepEqual(a.health(), {
      ok: true,
      backend: 'postgres',
      detail: `127.0.0.1:${server.port}${new URL(url).pathname}`,
    });
  });

  test('refuses a database written by a newer Tandem', async () => {
    const url = await server.createDatabase();
    const pool = new pg.Pool({ connectionString: url });
    try {
      await migratePostgres(pool);
      await pool.query("INSERT INTO schema_migrations VALUES (999, 'future', 0)");
      await assert.rejects(migratePostgres(pool), MigrationError);
    } finally {
      await pool.end();
    }
  });

  test('a failed batch stays buffered and is written once the database answers again', async () => {
    const store = await open({ retention: TEST_RETENTION });
    await store.pool.query('ALTER TABLE telemetry RENAME TO telemetry_away');
    store.telemetry.append([{ deviceId: 'd', path: '/3/0/9', ts: 1, value: 80 }]);
    await assert.rejects(store.flush(), /telemetry/);
    assert.equal(store.telemetry.pending, 1);
    assert.equal(store.health().ok, false, 'the failure shows in health');
    await store.pool.query('ALTER TABLE telemetry_away RENAME TO telemetry');
    assert.deepEqual(await store.telemetry.query({ deviceId: 'd' }), [
      { deviceId: 'd', path: '/3/0/9', ts: 1, value: 80 },
    ]);
    assert.equal(store.telemetry.pending, 0);
    assert.equal(store.health().ok, true);
  });

  test('a closed store reports unhealthy', async () => {
    const store = await open();
    await store.close();
    assert.deepEqual(store.health(), { ok: false, backend: 'postgres', detail: 'closed' });
  });

  test('Tandem on the postgres backend: devices and telemetry in Postgres, broker sessions in its data dir', async (t) => {
    const url = await server.createDatabase();
    const tandem = await startTandem(t, { storage: { backend: 'postgres', postgresUrl: url } });
    assert.ok(tandem.store instanceof PostgresStore);
    assert.ok(tandem.store.local instanceof SqliteStore, 'the node-local state stays embedded');
    assert.equal(tandem.health().storage.backend, 'postgres');
    await tandem.devices.create({ id: 'pg-dev', protocol: 'mqtt' });
    tandem.store.telemetry.append([
      { deviceId: 'pg-dev', path: '/3303/0/5700', ts: Date.UTC(2026, 0, 1, 0, 0, 5), value: 19 },
      { deviceId: 'pg-dev', path: '/3303/0/5700', ts: Date.UTC(2026, 0, 1, 0, 0, 9), value: 21 },
    ]);
    // Loopback only: the API answers reads without a token.
    const res = await fetch(
      `http://${tandem.addresses().http}/api/devices/pg-dev/data?interval=1h`,
    );
    assert.deepEqual(await res.json(), [
      {
        path: '/3303/0/5700',
        ts: '2026-01-01T00:00:00.000Z',
        min: 19,
        max: 21,
        avg: 20,
        count: 2,
        last: 21,
      },
    ]);
    const { rows } = await tandem.store.pool.query('SELECT id FROM devices');
    assert.deepEqual(rows, [{ id: 'pg-dev' }]);
    // Points of 2026-01-01 are far older than the 30 days of raw retention; the hour stays.
    await tandem.store.telemetry.sweep();
    const metrics = await (await fetch(`http://${tandem.addresses().http}/metrics`)).text();
    assert.match(metrics, /^tandem_telemetry_expired_total\{kind="point"\} 2$/m);
    assert.match(metrics, /^tandem_telemetry_expired_total\{kind="bucket"\} 1$/m);
  });
});
