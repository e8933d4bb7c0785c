import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import { issueToken } from '../../src/hub/api-tokens.js';
import type { SensorInstance } from '../../src/lwm2m/client/index.js';
import type { Tandem } from '../../src/server/tandem.js';
import { lwm2mDevice } from '../helpers/lwm2m-device.js';
import { startTandem } from '../helpers/tandem.js';

/** An MQTT 5 application on Tandem's broker, with every message it receives in order. */
async function application(
  t: TestContext,
  tandem: Tandem,
  options: { username?: string; password?: string } = {},
) {
  const client: MqttClient = await mqtt.connectAsync(
    `mqtt://127.0.0.1:${tandem.address('mqtt')!.port}`,
    { protocolVersion: 5, reconnectPeriod: 0, ...options },
  );
  t.after(() => client.endAsync());
  const received: IPublishPacket[] = [];
  const waiters: { match: (p: IPublishPacket) => boolean; resolve: (p: IPublishPacket) => void }[] =
    [];
  client.on('message', (_topic, _payload, packet) => {
    received.push(packet);
    for (const w of [...waiters]) {
      if (w.match(packet)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(packet);
      }
    }
  });
  /** The first message (received or to come) on `topic` that `where` accepts. */
  const next = (topic: string, where: (body: Record<string, unknown>) => boolean = () => true) =>
    new Promise<IPublishPacket>((resolve) => {
      const match = (p: IPublishPacket) => p.topic === topic && where(json(p));
      const seen = received.find(match);
      if (seen) resolve(seen);
      else waiters.push({ match, resolve });
    });
  return { client, received, next };
}

const json = (p: IPublishPacket) => JSON.parse(p.payload.toString()) as Record<string, unknown>;

describe('bridge to applications (tandem/ topics)', () => {
  test('an observed sensor value is published on tandem/devices/{id}/data{path} with its unit', async (t) => {
    const tandem = await startTandem(t);
    const device = await lwm2mDevice(t, tandem, 'dev1');
    await device.register();
    const app = await application(t, tandem);
    await app.client.subscribeAsync('tandem/devices/+/data/#');
    const operator = (await issueToken(tandem.store.tokens, 'operator')).token;
    const http = `http://127.0.0.1:${tandem.address('http')!.port}`;
    const observed = await fetch(`${http}/api/devices/dev1/3303/0/5700/observe`, {
      method: 'POST',
      headers: { authorization: `Bearer ${operator}` },
    });
    assert.equal(observed.status, 200);
    (device.objects.get(3303)!.instances.get(0) as SensorInstance).measure(23.25);
    const message = await app.next('tandem/devices/dev1/data/3303/0/5700');
    const body = json(message);
    assert.equal(typeof body.ts, 'string');
    assert.ok(!Number.isNaN(Date.parse(body.ts as string)));
    delete body.ts;
    assert.deepEqual(body, {
      path: '/3303/0/5700',
      value: 23.25,
      type: 'float',
      unit: 'Cel',
      name: 'Sensor Value',
    });
    assert.equal(message.properties?.contentType, 'application/json');
  });

  test("with bridge.retainData, a new subscriber gets each path's last value, at bridge.qos", async (t) => {
    const tandem = await startTandem(t, { bridge: { retainData: true, qos: 1 } });
    const device = await lwm2mDevice(t, tandem, 'dev1');
    await device.register();
    const early = await application(t, tandem);
    await early.client.subscribeAsync('tandem/devices/dev1/data/#', { qos: 1 });
    await device.send(['/3/0/0']);
    const live = await early.next('tandem/devices/dev1/data/3/0/0');
    assert.equal(live.qos, 1);
    const late = await application(t, tandem);
    await late.client.subscribeAsync('tandem/devices/dev1/data/#', { qos: 1 });
    const retained = await late.next('tandem/devices/dev1/data/3/0/0');
    assert.equal(retained.retain, true);
    assert.equal(retained.qos, 1);
    assert.equal(json(retained).value, 'Tandem Labs');
  });

  test('an observed instance publishes one message per resource', async (t) => {
    const tandem = await startTandem(t);
    const device = await lwm2mDevice(t, tandem, 'dev1');
    await device.register();
    const app = await application(t, tandem);
    await app.client.subscribeAsync('tandem/devices/dev1/data/#');
    const observed = await tandem.lwm2m.server.observe('dev1', { path: '/3303/0' });
    assert.ok(observed.observation);
    (device.objects.get(3303)!.instances.get(0) as SensorInstance).measure(-4.5);
    // The sensor's minimum changes first (one notification), then its value (another).
    const value = json(
      await app.next('tandem/devices/dev1/data/3303/0/5700', (b) => b.value === -4.5),
    );
    // The instance carried its Sensor Units, so the value has its unit.
    assert.equal(value.unit, 'Cel');
    const units = json(await app.next('tandem/devices/dev1/data/3303/0/5701'));
    assert.equal(units.value, 'Cel');
    assert.equal(units.name, 'Sensor Units');
  });

  test('a Send is published value by value', async (t) => {
    const tandem = await startTandem(t);
    const device = await lwm2mDevice(t, tandem, 'dev1');
    await device.register();
    const app = await application(t, tandem);
    await app.client.subscribeAsync('tandem/devices/dev1/data/#');
    await device.send(['/3/0/0', '/3303/0/5700']);
    const manufacturer = json(await app.next('tandem/devices/dev1/data/3/0/0'));
    assert.equal(manufacturer.value, 'Tandem Labs');
    assert.equal(manufacturer.name, 'Manufacturer');
    const value = json(await app.next('tandem/devices/dev1/data/3303/0/5700'));
    assert.equal(value.value, 20);
  });

  test('registration and de-registration are published on tandem/devices/{id}/events/...', async (t) => {
    const tandem = await startTandem(t);
    const app = await application(t, tandem);
    await app.client.subscribeAsync('tandem/devices/+/events/#');
    const device = await lwm2mDevice(t, tandem, 'dev2');
    await device.register();
    const registered = json(await app.next('tandem/devices/dev2/events/registered'));
    assert.equal(registered.event, 'registered');
    assert.equal(registered.deviceId, 'dev2');
    const registration = registered.registration as Record<string, unknown>;
    assert.equal(registration.lwm2mVersion, '1.1');
    assert.equal(registration.lifetime, 300);
    assert.ok((registration.objectLinks as string[]).includes('/3303/0'));
    await device.update();
    const updated = json(await app.next('tandem/devices/dev2/events/updated'));
    assert.equal((updated.registration as Record<string, unknown>).id, registration.id);
    assert.equal(updated.moved, false);
    await device.deregister();
    const deregistered = json(await app.next('tandem/devices/dev2/events/deregistered'));
    assert.equal(deregistered.registrationId, registration.id);
  });

  test('a command over MQTT 5 request/response reads /3/0/0 and answers with the correlation data', async (t) => {
    const tandem = await startTandem(t);
    const device = await lwm2mDevice(t, tandem, 'dev1');
    await device.register();
    const app = await application(t, tandem);
    // Subscribed to the commands too: they must not be routed (the token they may carry).
    await app.client.subscribeAsync(['app/responses', 'tandem/commands/#']);
    const correlationData = Buffer.from('request-42');
    await app.client.publishAsync(
      'tandem/commands/dev1',
      JSON.stringify({ op: 'read', path: '/3/0/0' }),
      { qos: 1, properties: { responseTopic: 'app/responses', correlationData } },
    );
    const response = await app.next('app/responses');
    assert.deepEqual(response.properties?.correlationData, correlationData);
    assert.deepEqual(json(response), {
      path: '/3/0/0',
      value: 'Tandem Labs',
      type: 'string',
      name: 'Manufacturer',
    });
    assert.deepEqual({ ...response.properties?.userProperties }, { status: '200' });
    assert.deepEqual(
      app.received.map((p) => p.topic),
      ['app/responses'],
      'the command itself was not routed',
    );
  });

  test('commands that change a device need an operator token in the authorization user property', async (t) => {
    const tandem = await startTandem(t);
    const device = await lwm2mDevice(t, tandem, 'dev1');
    await device.register();
    const app = await application(t, tandem);
    await app.client.subscribeAsync('app/#');
    const write = JSON.stringify({ op: 'write', path: '/3/0/14', value: '+01:00' });
    await app.client.publishAsync('tandem/commands/dev1', write, {
      qos: 1,
      properties: { responseTopic: 'app/anonymous', correlationData: Buffer.from('1') },
    });
    const refused = json(await app.next('app/anonymous'));
    assert.equal(refused.statusCode, 401);
    assert.equal(refused.code, 'TANDEM_ERR_UNAUTHORIZED');

    const readOnly = (await issueToken(tandem.store.tokens, 'read-only')).token;
    await app.client.publishAsync('tandem/commands/dev1', write, {
      qos: 1,
      properties: {
        responseTopic: 'app/read-only',
        correlationData: Buffer.from('2'),
        userProperties: { authorization: `Bearer ${readOnly}` },
      },
    });
    assert.equal(json(await app.next('app/read-only')).code, 'TANDEM_ERR_FORBIDDEN');

    const operator = (await issueToken(tandem.store.tokens, 'operator')).token;
    await app.client.publishAsync('tandem/commands/dev1', write, {
      qos: 1,
      properties: {
        responseTopic: 'app/operator',
        correlationData: Buffer.from('3'),
        userProperties: { authorization: `Bearer ${operator}` },
      },
    });
    const written = await app.next('app/operator');
    assert.deepEqual(json(written), {});
    assert.deepEqual({ ...written.properties?.userProperties }, { status: '204' });
    const read = await tandem.lwm2m.server.read('dev1', { path: '/3/0/14' });
    assert.equal((read.content as { value: { value: unknown } }).value.value, '+01:00');

    // A device error comes back in the API's error shape, with its CoAP code.
    await app.client.publishAsync(
      'tandem/commands/dev1',
      JSON.stringify({ op: 'read', path: '/3/0/999' }),
      { qos: 1, properties: { responseTopic: 'app/missing', correlationData: Buffer.from('4') } },
    );
    const missing = json(await app.next('app/missing'));
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.coapCode, '4.04');
  });

  test('nobody but Tandem publishes under tandem/devices/, and devices send no commands', async (t) => {
    const tandem = await startTandem(t);
    await tandem.devices.create({
      id: 'pump',
      protocol: 'mqtt',
      credentials: { mqtt: { username: 'pump', password: 'pump-secret' } },
    });
    const pump = await application(t, tandem, { username: 'pump', password: 'pump-secret' });
    const notAuthorized = (err: unknown) => (err as { code?: number }).code === 0x87;
    await assert.rejects(
      pump.client.publishAsync('tandem/devices/pump/data/3/0/0', '{}', { qos: 1 }),
      notAuthorized,
    );
    await assert.rejects(
      pump.client.publishAsync('tandem/commands/pump', '{"op":"read","path":"/3/0/0"}', {
        qos: 1,
      }),
      notAuthorized,
    );
    // Its own namespace is still its own (devices/%d/#).
    await pump.client.publishAsync('devices/pump/temperature', '21', { qos: 1 });
    const anonymous = await application(t, tandem);
    await assert.rejects(
      anonymous.client.publishAsync('tandem/devices/dev1/events/registered', '{}', { qos: 1 }),
      notAuthorized,
    );
  });

  test('an application logs in with user name token and an API token; its role rules its commands and publishes', async (t) => {
    const tandem = await startTandem(t);
    const device = await lwm2mDevice(t, tandem, 'dev1');
    await device.register();
    const readOnly = (await issueToken(tandem.store.tokens, 'read-only')).token;
    const operator = (await issueToken(tandem.store.tokens, 'operator')).token;

    const viewer = await application(t, tandem, { username: 'token', password: readOnly });
    await viewer.client.subscribeAsync(['viewer/#', 'tandem/devices/#']);
    const read = JSON.stringify({ op: 'read', path: '/3/0/0' });
    await viewer.client.publishAsync('tandem/commands/dev1', read, {
      qos: 1,
      properties: { responseTopic: 'viewer/read', correlationData: Buffer.from('r') },
    });
    assert.equal(json(await viewer.next('viewer/read')).value, 'Tandem Labs');
    const write = JSON.stringify({ op: 'write', path: '/3/0/14', value: '+02:00' });
    await viewer.client.publishAsync('tandem/commands/dev1', write, {
      qos: 1,
      properties: { responseTopic: 'viewer/write', correlationData: Buffer.from('w') },
    });
    assert.equal(json(await viewer.next('viewer/write')).code, 'TANDEM_ERR_FORBIDDEN');
    // A read-only application publishes nothing but commands (PUBACK 0x87, MQTT 5.0 §3.4.2.1).
    await assert.rejects(
      viewer.client.publishAsync('plant/1/setpoint', '7', { qos: 1 }),
      (err: Error) => {
        assert.equal((err as Error & { code?: number }).code, 0x87);
        return true;
      },
    );

    const worker = await application(t, tandem, { username: 'token', password: operator });
    await worker.client.subscribeAsync('worker/#');
    await worker.client.publishAsync('tandem/commands/dev1', write, {
      qos: 1,
      properties: { responseTopic: 'worker/write', correlationData: Buffer.from('w') },
    });
    assert.deepEqual(json(await worker.next('worker/write')), {});
    await worker.client.publishAsync('plant/1/setpoint', '7', { qos: 1 });
  });

  test('an unknown API token is refused with 0x86, and no device may take the user name token', async (t) => {
    const tandem = await startTandem(t, { host: '0.0.0.0' });
    const refused = await new Promise<number | undefined>((resolve) => {
      const c = mqtt.connect(`mqtt://127.0.0.1:${tandem.address('mqtt')!.port}`, {
        protocolVersion: 5,
        reconnectPeriod: 0,
        username: 'token',
        password: 'tdm_not-a-real-token',
      });
      c.on('error', (err) => {
        c.end(true);
        resolve((err as Error & { code?: number }).code);
      });
    });
    assert.equal(refused, 0x86);
    await assert.rejects(
      tandem.devices.create({
        id: 'impostor',
        protocol: 'mqtt',
        credentials: { mqtt: { username: 'token', password: 'x' } },
      }),
      /user name of applications/,
    );
  });
});
