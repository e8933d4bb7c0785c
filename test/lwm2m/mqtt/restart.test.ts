/**
 * The LwM2M server of managed MQTT devices taken over by a new one on the same durable store
 * (the SQLite tables Tandem gives it), as after a restart of Tandem: the broker and the device
 * stay, the device knows nothing of the restart.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { Code } from '../../../src/coap/code.js';
import type { TemperatureObject } from '../../../src/lwm2m/client/index.js';
import { MqttLwm2mServer } from '../../../src/lwm2m/mqtt/index.js';
import type { Lwm2mSingleResource } from '../../../src/lwm2m/node/lwm2m-node.js';
import type { NotificationEvent, UpdatedEvent } from '../../../src/lwm2m/server/events.js';
import { SqliteStore } from '../../../src/store/sqlite/index.js';
import {
  MQTT_TABLES,
  SqliteRegistrationStore,
} from '../../../src/store/sqlite/registration-store.js';
import { startBroker } from '../../mqtt/helpers.js';
import { managedDevice } from './helpers.js';

test('a new server on the same store resumes the managed device: its Notify is emitted, not answered Cancel-Observe, and its Update is 2.04 (RFC 7641 §3.6, LwM2M-TS-Core 1.1 §6.2.2)', async (t) => {
  const db = new SqliteStore({ dataDir: ':memory:' });
  t.after(() => db.close());
  let server: MqttLwm2mServer | undefined;
  const tb = await startBroker({
    hooks: {
      authenticate: () => ({ accept: true }),
      authorizePublish: (client, message) => server?.handlePublish(client, message) ?? true,
      onConnect: (client, info) => server?.clientConnected(client, info),
      onDisconnect: (client, info) => server?.clientDisconnected(client, info),
    },
  });
  t.after(() => tb.close());
  const startServer = () =>
    new MqttLwm2mServer({
      publish: (m) => tb.broker.publish(m),
      store: new SqliteRegistrationStore(db.db, MQTT_TABLES),
    });

  const first = startServer();
  server = first;
  // A persistent session: the broker keeps the device's subscription over the reconnection.
  const device = await managedDevice(tb, 'mq-restart', {
    mqtt: { clean: false, properties: { sessionExpiryInterval: 300 } },
  });
  t.after(() => {
    device.client.close();
    device.port.close();
  });
  await device.client.register();
  const observed = await first.observe('mq-restart', { path: '/3303/0/5700' });
  const observation = observed.observation!;
  assert.ok(observation);
  await first.close();

  const second = startServer();
  server = second;
  t.after(() => second.close());
  assert.deepEqual(
    (await second.restore()).map((r) => r.endpoint),
    ['mq-restart'],
  );
  assert.deepEqual(second.observations(), [observation]);
  // Tandem's broker restarts with it: the device connects again, now seen by the new server.
  const closed = new Promise<void>((resolve) => device.mqtt.once('close', () => resolve()));
  device.mqtt.stream.destroy();
  await closed;
  const reconnected = new Promise<void>((resolve) => device.mqtt.once('connect', () => resolve()));
  device.mqtt.reconnect();
  await reconnected;

  const sensor = device.client.objects.get(3303) as TemperatureObject;
  const notified = once(second, 'notification') as Promise<[NotificationEvent]>;
  sensor.sensor(0).measure(24.5);
  const [event] = await notified;
  assert.equal((event.content as Lwm2mSingleResource).value.value, 24.5);
  assert.equal(event.observation.id, observation.id);

  // A request after the restart takes a token of its own, and the device answers it.
  const read = await second.read('mq-restart', { path: '/3/0/0' });
  assert.equal(read.code, Code.Content);
  assert.equal(device.client.observationCount, 1, 'no Cancel-Observe reached the device');

  const updated = once(second, 'updated') as Promise<[UpdatedEvent]>;
  await device.client.update();
  assert.equal((await updated)[0].current.id, (await second.getRegistration('mq-restart'))?.id);
});
