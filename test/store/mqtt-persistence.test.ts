import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { MemoryPersistence } from '../../src/mqtt/persistence/memory.js';
import type { MqttPersistence } from '../../src/mqtt/persistence/types.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { SqliteMqttPersistence } from '../../src/store/sqlite/mqtt-persistence.js';
import {
  DELIVERY_COLUMNS,
  decodeProperties,
  encodeProperties,
  RETAINED_COLUMNS,
  SESSION_COLUMNS,
  SUBSCRIPTION_COLUMNS,
} from '../../src/store/sqlite/mqtt-rows.js';
import { tempDir } from '../helpers/tmp.js';
import { type PersistenceFactory, persistenceContract } from '../mqtt/persistence-contract.js';
import { fullMessage, mqttPersistenceContract, plainMessage } from './mqtt-persistence-contract.js';

/**
 * The broker's own contract suite (test/mqtt/persistence-contract.ts) on SQLite files. `reopen`
 * abandons the first store as `kill -9` would (its connection closed with nothing flushed
 * beyond what was awaited) and opens a new store on the same file.
 */
function sqliteFiles(): PersistenceFactory {
  const owners = new Map<MqttPersistence, { store: SqliteStore; dir: string }>();
  const open = (dir: string) => {
    const store = new SqliteStore({ dataDir: dir });
    owners.set(store.mqtt, { store, dir });
    return store.mqtt;
  };
  return {
    create: () => open(mkdtempSync(join(tmpdir(), 'tandem-mqtt-'))),
    reopen: (previous) => {
      const { store, dir } = owners.get(previous)!;
      owners.delete(previous);
      store.db.close();
      return open(dir);
    },
    destroy: async (p) => {
      const { store, dir } = owners.get(p)!;
      owners.delete(p);
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

persistenceContract('sqlite (file)', sqliteFiles());
const inMemory = new Map<MqttPersistence, SqliteStore>();
persistenceContract('sqlite (:memory:)', {
  create: () => {
    const store = new SqliteStore({ dataDir: ':memory:' });
    inMemory.set(store.mqtt, store);
    return store.mqtt;
  },
  destroy: (p) => inMemory.get(p)?.close(),
});

// The reference backend runs the same suite, so that the suite itself is checked.
mqttPersistenceContract('memory (reference)', async () => ({
  persistence: new MemoryPersistence(),
  close: async () => undefined,
}));

mqttPersistenceContract('sqlite (:memory:)', async () => {
  const store = new SqliteStore({ dataDir: ':memory:' });
  return { persistence: store.mqtt, close: () => store.close() };
});

mqttPersistenceContract('sqlite (file)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-mqtt-'));
  const stores: SqliteStore[] = [new SqliteStore({ dataDir: dir })];
  return {
    persistence: stores[0]!.mqtt,
    // A second store on the same file while the first is still open and was never closed:
    // what a process started after a crash of the first one sees.
    reopen: async () => {
      const next = new SqliteStore({ dataDir: dir });
      stores.push(next);
      return next.mqtt;
    },
    close: async () => {
      for (const s of stores.reverse()) await s.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

/** Rows of `table` as another connection sees them: only what is committed. */
function committedRows(path: string, table: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe('SQLite MQTT persistence', () => {
  test('the writes of one synchronous run (one PUBLISH to many subscribers) share one commit', async (t) => {
    const store = new SqliteStore({ dataDir: tempDir(t) });
    t.after(() => store.close());
    const p = store.mqtt;
    const writes = Array.from({ length: 50 }, (_, i) =>
      p.putDelivery(`sub-${i}`, {
        seq: 1,
        state: 'queued',
        qos: 1,
        retain: false,
        message: plainMessage('fan/out'),
      }),
    );
    assert.ok(
      writes.every((w) => w === writes[0]),
      'one promise for the whole batch',
    );
    assert.equal(p.pending, 50);
    assert.equal(committedRows(store.path, 'mqtt_deliveries'), 0, 'nothing committed yet');
    await writes[0];
    assert.equal(p.pending, 0);
    assert.equal(committedRows(store.path, 'mqtt_deliveries'), 50, 'committed when it settles');
  });

  test('an awaited write is committed to the file before the promise settles [MQTT-4.3.2-2]', async (t) => {
    const store = new SqliteStore({ dataDir: tempDir(t) });
    t.after(() => store.close());
    await store.mqtt.putRetained(fullMessage('r/1'));
    await store.mqtt.addIncomingQos2('c', 1);
    assert.equal(committedRows(store.path, 'mqtt_retained'), 1);
    assert.equal(committedRows(store.path, 'mqtt_incoming_qos2'), 1);
  });

  test('deleteDelivery is lazy: nothing to await, committed with the next turn', async (t) => {
    const store = new SqliteStore({ dataDir: tempDir(t) });
    t.after(() => store.close());
    const p = store.mqtt;
    await p.putDelivery('c', {
      seq: 1,
      state: 'publish',
      packetId: 1,
      qos: 1,
      retain: false,
      message: plainMessage('t'),
    });
    assert.equal(p.deleteDelivery('c', 1), undefined);
    assert.equal(committedRows(store.path, 'mqtt_deliveries'), 1);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(committedRows(store.path, 'mqtt_deliveries'), 0);
  });

  test('the durable deletions settle after their commit (PUBCOMP, UNSUBACK, retained delete)', async (t) => {
    const store = new SqliteStore({ dataDir: tempDir(t) });
    t.after(() => store.close());
    const p = store.mqtt;
    await Promise.all([
      p.addIncomingQos2('c', 1),
      p.putSubscription('c', {
        clientId: 'c',
        filter: 'a',
        topicFilter: 'a',
        qos: 1,
        noLocal: false,
        retainAsPublished: false,
        retainHandling: 0,
      }),
      p.putRetained(plainMessage('r')),
    ]);
    await Promise.all([
      p.deleteIncomingQos2('c', 1),
      p.deleteSubscription('c', 'a'),
      p.deleteRetained('r'),
    ]);
    for (const table of ['mqtt_incoming_qos2', 'mqtt_subscriptions', 'mqtt_retained']) {
      assert.equal(committedRows(store.path, table), 0, table);
    }
  });

  test('a failed commit rejects every write of the batch and loses none of the next', async (t) => {
    const store = new SqliteStore({ dataDir: ':memory:' });
    t.after(() => store.close());
    const p = store.mqtt;
    store.db.exec('ALTER TABLE mqtt_retained RENAME TO mqtt_retained_away');
    const a = p.putRetained(plainMessage('r'));
    const b = p.saveSession({ clientId: 'c', protocolVersion: 5, expiryInterval: 1 });
    await assert.rejects(a);
    await assert.rejects(b);
    assert.deepEqual(p.listSessions(), [], 'the batch rolled back as a whole');
    store.db.exec('ALTER TABLE mqtt_retained_away RENAME TO mqtt_retained');
    await p.putRetained(plainMessage('r'));
    assert.equal(p.listRetained().length, 1);
  });

  test('a failed commit of lazy deletions only is told to onError', async (t) => {
    const store = new SqliteStore({ dataDir: ':memory:' });
    t.after(() => store.close());
    const errors: unknown[] = [];
    store.mqtt.onError = (err) => errors.push(err);
    store.db.exec('ALTER TABLE mqtt_deliveries RENAME TO mqtt_deliveries_away');
    store.mqtt.deleteDelivery('c', 1);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(errors.length, 1);
    store.db.exec('ALTER TABLE mqtt_deliveries_away RENAME TO mqtt_deliveries');
  });

  test('after close, writes reject and reads throw; close commits what was queued', async (t) => {
    const dir = tempDir(t);
    const store = new SqliteStore({ dataDir: dir });
    const queued = store.mqtt.saveSession({
      clientId: 'c',
      protocolVersion: 5,
      expiryInterval: 9,
    });
    await store.close();
    await queued;
    await assert.rejects(store.mqtt.putRetained(plainMessage('r')), /closed/);
    assert.throws(() => store.mqtt.listSessions(), /closed/);
    assert.equal(store.mqtt.deleteDelivery('c', 1), undefined);
    const again = new SqliteStore({ dataDir: dir });
    t.after(() => again.close());
    assert.equal(again.mqtt.getSession('c')?.expiryInterval, 9);
  });

  test('a persistence can be built on any database that has the schema', async () => {
    const store = new SqliteStore({ dataDir: ':memory:' });
    const p = new SqliteMqttPersistence(store.db);
    await p.putRetained(plainMessage('r'));
    assert.equal(store.mqtt.listRetained().length, 1, 'same tables');
    p.close();
    await store.close();
  });

  test('properties: none is NULL, Buffers are explicit base64, others are JSON', () => {
    assert.equal(encodeProperties({}), null);
    assert.equal(encodeProperties({ contentType: undefined }), null);
    const json = encodeProperties({ correlationData: Buffer.from([0xff, 0]), contentType: 'x' });
    assert.equal(json, '{"correlationData":{"$b64":"/wA="},"contentType":"x"}');
    const back = decodeProperties(json);
    assert.ok(Buffer.isBuffer(back.correlationData));
    assert.deepEqual([...back.correlationData!], [0xff, 0]);
    assert.deepEqual(decodeProperties(null), {});
  });

  test('every column of the MQTT tables is written', () => {
    const store = new SqliteStore({ dataDir: ':memory:' });
    const columns = (table: string) =>
      (store.db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[])
        .map((c) => c.name)
        .sort();
    assert.deepEqual(columns('mqtt_sessions'), [...SESSION_COLUMNS].sort());
    assert.deepEqual(columns('mqtt_subscriptions'), [...SUBSCRIPTION_COLUMNS].sort());
    assert.deepEqual(columns('mqtt_retained'), [...RETAINED_COLUMNS].sort());
    assert.deepEqual(columns('mqtt_deliveries'), [...DELIVERY_COLUMNS].sort());
    store.db.close();
  });

  test('migration 2 is applied next to the store tables', (t) => {
    const store = new SqliteStore({ dataDir: tempDir(t) });
    t.after(() => store.close());
    const tables = (
      store.db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'mqtt_%'")
        .all() as { name: string }[]
    )
      .map((r) => r.name)
      .sort();
    assert.deepEqual(tables, [
      'mqtt_deliveries',
      'mqtt_incoming_qos2',
      'mqtt_retained',
      'mqtt_sessions',
      'mqtt_subscriptions',
    ]);
  });
});
