/**
 * An observation survives a restart of Tandem on the same database and the same CoAP port: the
 * device, which knows nothing of the restart, goes on notifying under its token (RFC 7641
 * §3.2), and the new server takes those notifications instead of rejecting them with RST, which
 * would cancel the observation on the device (RFC 7641 §3.6).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect } from 'mqtt';
import { DeviceObject, Lwm2mClient, TemperatureObject } from '../../src/lwm2m/client/index.js';
import { MqttClientPort } from '../../src/lwm2m/mqtt/index.js';
import type { Lwm2mSingleResource } from '../../src/lwm2m/node/lwm2m-node.js';
import type { NotificationEvent } from '../../src/lwm2m/server/index.js';
import { Tandem } from '../../src/server/tandem.js';
import { lwm2mDevice, temperatureSensor } from '../helpers/lwm2m-device.js';
import { testConfig } from '../helpers/tandem.js';
import { tempDir } from '../helpers/tmp.js';
import { nextEvent } from '../lwm2m/server/helpers.js';

const valueIn = (event: NotificationEvent) =>
  (event.content as Lwm2mSingleResource).value.value as number;

test('an observation survives a restart on the same database and port: the notification is emitted and stored, not answered RST (RFC 7641 §3.6)', async (t) => {
  const dataDir = tempDir(t);
  const first = new Tandem({ config: testConfig(t, { dataDir }) });
  t.after(() => first.stop());
  await first.start();
  const coapPort = first.address('coap')!.port;
  const device = await lwm2mDevice(t, first, 'thermo-restart');
  await device.register();
  const observed = await first.lwm2m.server.observe('thermo-restart', { path: '/3303/0/5700' });
  const observation = observed.observation!;
  assert.ok(observation, 'the device accepted the observation');
  const before = nextEvent<NotificationEvent>(first.lwm2m.server, 'notification');
  temperatureSensor(device).measure(20.5);
  assert.equal(valueIn(await before), 20.5);
  await first.stop();

  // The same database and the same UDP port: the device's datagrams reach the new server.
  const second = new Tandem({
    config: testConfig(t, { dataDir, listeners: { coap: { port: coapPort } } }),
  });
  t.after(() => second.stop());
  await second.start();
  assert.deepEqual(second.lwm2m.server.observations('thermo-restart'), [observation]);

  const after = nextEvent<NotificationEvent>(second.lwm2m.server, 'notification');
  temperatureSensor(device).measure(23.25);
  const event = await after;
  assert.equal(valueIn(event), 23.25);
  assert.equal(event.observation.id, observation.id);

  // The notification is the device's telemetry, as before the restart.
  const points = await second.store.telemetry.query({
    deviceId: 'thermo-restart',
    path: '/3303/0/5700',
  });
  assert.equal(points[0]?.value, 23.25);

  // A request and its answer after the notification: an RST would have been sent before it.
  const read = await second.lwm2m.server.read('thermo-restart', { path: '/3/0/0' });
  assert.equal(read.code >> 5, 2);
  assert.equal(
    second.coap.listeners.get('coap')!.endpoint.stats.unmatched,
    0,
    'the server rejected nothing with RST',
  );
  assert.equal(device.coap.observerCount, 1, 'the device still has its observation');
});

test('a managed MQTT device stays registered and observed across a restart: its Notify is emitted and stored, its Update is 2.04 (RFC 7641 §3.6, LwM2M-TS-Core 1.1 §6.2.2)', async (t) => {
  const dataDir = tempDir(t);
  const first = new Tandem({ config: testConfig(t, { dataDir }) });
  t.after(() => first.stop());
  await first.start();
  const mqttPort = first.address('mqtt')!.port;
  // A persistent session, and reconnection: the device comes back to the restarted broker.
  const mqtt = connect(`mqtt://127.0.0.1:${mqttPort}`, {
    protocolVersion: 5,
    clientId: 'mq-thermo',
    clean: false,
    properties: { sessionExpiryInterval: 600 },
    reconnectPeriod: 50,
  });
  t.after(() => mqtt.endAsync(true));
  const port = new MqttClientPort({ mqtt, endpoint: 'mq-thermo' });
  const temperature = new TemperatureObject();
  const device = new Lwm2mClient({
    endpoint: port,
    server: { key: 'mqtt:server', address: 'mqtt', port: 0 },
    name: 'mq-thermo',
    objects: [new DeviceObject({ manufacturer: 'Tandem Labs' }), temperature],
    lwm2mVersion: '1.2',
    binding: 'M',
    autoUpdate: false,
  });
  t.after(() => {
    device.close();
    port.close();
  });
  await port.start();
  await device.register();
  const observed = await first.managedMqtt.observe('mq-thermo', { path: '/3303/0/5700' });
  const observation = observed.observation!;
  assert.ok(observation, 'the device accepted the observation');
  await first.stop();

  const second = new Tandem({
    config: testConfig(t, { dataDir, listeners: { mqtt: { port: mqttPort } } }),
  });
  t.after(() => second.stop());
  await second.start();
  assert.deepEqual(second.managedMqtt.observations('mq-thermo'), [observation]);
  assert.equal(second.devices.isOnline('mq-thermo'), true);

  const after = nextEvent<NotificationEvent>(second.managedMqtt, 'notification');
  temperature.sensor(0).measure(18.75);
  const event = await after;
  assert.equal(valueIn(event), 18.75);
  assert.equal(event.observation.id, observation.id);
  const points = await second.store.telemetry.query({
    deviceId: 'mq-thermo',
    path: '/3303/0/5700',
  });
  assert.equal(points[0]?.value, 18.75);

  // Requests reach it with tokens of their own; no Cancel-Observe reached it.
  const read = await second.managedMqtt.read('mq-thermo', { path: '/3/0/0' });
  assert.equal(read.code >> 5, 2);
  assert.equal(device.observationCount, 1, 'the device still has its observation');
  const updated = nextEvent(second.managedMqtt, 'updated');
  await device.update();
  await updated;
});
