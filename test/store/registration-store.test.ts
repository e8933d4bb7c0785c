import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { MQTT_TABLES, SqliteRegistrationStore } from '../../src/store/sqlite/registration-store.js';
import { tempDir } from '../helpers/tmp.js';
import {
  registrationStoreContract,
  sampleObservation,
  sampleRegistration,
} from '../lwm2m/server/registration-store-contract.js';

registrationStoreContract('sqlite', async () => {
  const store = new SqliteStore({ dataDir: ':memory:' });
  return { store: new SqliteRegistrationStore(store.db), close: () => store.close() };
});

registrationStoreContract('sqlite (managed MQTT tables)', async () => {
  const store = new SqliteStore({ dataDir: ':memory:' });
  return { store: new SqliteRegistrationStore(store.db, MQTT_TABLES), close: () => store.close() };
});

test('the managed MQTT server’s registrations and observations are apart from the CoAP server’s', async (t) => {
  const store = new SqliteStore({ dataDir: ':memory:' });
  t.after(() => store.close());
  const coap = new SqliteRegistrationStore(store.db);
  const mqtt = new SqliteRegistrationStore(store.db, MQTT_TABLES);
  // The same endpoint name and registration ID on both servers.
  await coap.add(sampleRegistration());
  await mqtt.add(sampleRegistration({ peer: { key: 'mqtt:ep-1', address: 'x', port: 1 } }));
  await mqtt.addObservation(sampleObservation());
  assert.deepEqual(await coap.observations(), []);
  await coap.remove('id-1');
  assert.equal((await mqtt.getById('id-1'))?.peer.key, 'mqtt:ep-1');
  assert.equal((await new SqliteRegistrationStore(store.db, MQTT_TABLES).observations()).length, 1);
  assert.equal(await new SqliteRegistrationStore(store.db).size(), 0);
});

test('registrations survive a restart of the store, expiry times included', async (t) => {
  const dataDir = tempDir(t);
  const first = new SqliteStore({ dataDir });
  const reg = sampleRegistration({
    peer: {
      key: 'dtls:1',
      address: '192.0.2.1',
      port: 5684,
      identity: { kind: 'psk', identity: 'p' },
    },
  });
  await new SqliteRegistrationStore(first.db).add(reg);
  await new SqliteRegistrationStore(first.db).update(reg.id, {
    lastUpdateAt: 2_000,
    expiresAt: 62_000,
  });
  await first.close();
  const second = new SqliteStore({ dataDir });
  t.after(() => second.close());
  const registrations = new SqliteRegistrationStore(second.db);
  assert.deepEqual(await registrations.getByEndpoint('ep-1'), {
    ...reg,
    lastUpdateAt: 2_000,
    expiresAt: 62_000,
  });
  assert.deepEqual(
    (await registrations.expired(62_000)).map((r) => r.id),
    ['id-1'],
  );
});

test('observations survive a restart of the store with their registration (RFC 7641 §3.6: their tokens stay known)', async (t) => {
  const dataDir = tempDir(t);
  const first = new SqliteStore({ dataDir });
  const registrations = new SqliteRegistrationStore(first.db);
  await registrations.add(sampleRegistration());
  const composite = sampleObservation({
    id: 'a1',
    token: 'b2',
    paths: ['/3/0/0', '/3303/0/5700'],
    composite: true,
    format: 112,
  });
  await registrations.addObservation(sampleObservation());
  await registrations.addObservation(composite);
  await registrations.removeObservation(sampleObservation().id);
  await first.close();
  const second = new SqliteStore({ dataDir });
  t.after(() => second.close());
  const reopened = new SqliteRegistrationStore(second.db);
  assert.deepEqual(await reopened.observations(), [composite]);
  // The rows went with the registration, not only the memory copy.
  await reopened.remove('id-1');
  const count = second.db.prepare('SELECT COUNT(*) AS n FROM lwm2m_observations').get() as {
    n: number;
  };
  assert.equal(count.n, 0);
});
