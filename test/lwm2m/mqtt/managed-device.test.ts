/**
 * A managed MQTT device (our LwM2M client on MqttClientPort) against MqttLwm2mServer behind a
 * real broker: registration, every Device Management operation, Observe/Notify, Send, Update
 * and De-register, through the same API as the CoAP server's.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { Code } from '../../../src/coap/code.js';
import type { TemperatureObject } from '../../../src/lwm2m/client/index.js';
import { ContentFormat } from '../../../src/lwm2m/codec/content-format.js';
import type { Lwm2mSingleResource } from '../../../src/lwm2m/node/lwm2m-node.js';
import { objectInstance, singleResource } from '../../../src/lwm2m/node/lwm2m-node.js';
import { Lwm2mPath } from '../../../src/lwm2m/node/lwm2m-path.js';
import { Value } from '../../../src/lwm2m/node/lwm2m-value.js';
import type {
  NotificationEvent,
  RegisteredEvent,
  SendEvent,
  UpdatedEvent,
} from '../../../src/lwm2m/server/events.js';
import type { Registration } from '../../../src/lwm2m/server/registration.js';
import { type ManagedSetup, managedDevice, startManaged } from './helpers.js';

describe('managed MQTT device (LwM2M-TS-Transport 1.2 §8)', () => {
  let setup: ManagedSetup;
  let device: Awaited<ReturnType<typeof managedDevice>>;

  before(async () => {
    setup = await startManaged({ owners: true });
    device = await managedDevice(setup.tb, 'mq-1');
  });

  after(async () => {
    device.client.close();
    device.port.close();
    await setup.close();
  });

  test('Register (§8.3.2 operation 6) creates a registration with peer mqtt:<clientId>', async () => {
    const registered = once(setup.server, 'registered') as Promise<[RegisteredEvent]>;
    await device.client.register();
    const [{ registration }] = await registered;
    assert.equal(registration.endpoint, 'mq-1');
    assert.equal(registration.peer.key, 'mqtt:mq-1');
    assert.equal(registration.lwm2mVersion, '1.2');
    // LwM2M-TS-Core 1.2 §6.2.1: M is the MQTT binding.
    assert.equal(registration.binding, 'M');
    assert.ok(registration.objectLinks.some((l) => l.path === '/3303/0'));
    assert.ok(registration.supportedContentFormats.includes(ContentFormat.SENML_CBOR));
    assert.equal((await setup.server.getRegistration('mq-1'))?.id, registration.id);
  });

  test('Read (operation 9) of a resource, an instance and with a forced format', async () => {
    const r = await setup.server.read('mq-1', { path: '/3/0/0' });
    assert.equal(r.code, Code.Content);
    assert.equal((r.content as Lwm2mSingleResource).value.value, 'Tandem');
    const inst = await setup.server.read('mq-1', { path: '/3303/0' });
    assert.equal(inst.code, Code.Content);
    assert.equal(inst.content?.kind, 'object-instance');
    const json = await setup.server.read('mq-1', {
      path: '/3303/0/5700',
      format: ContentFormat.SENML_JSON,
    });
    assert.equal((json.content as Lwm2mSingleResource).value.value, 20);
    const missing = await setup.server.read('mq-1', { path: '/3303/9' });
    assert.equal(missing.code, Code.NotFound);
  });

  test('Discover (operation 11) lists the links of an instance', async () => {
    const r = await setup.server.discover('mq-1', { path: '/3/0' });
    assert.equal(r.code, Code.Content);
    assert.ok(r.links?.some((l) => l.path === '/3/0/0'));
  });

  test('Write replace (12) and partial update (13), then Read shows the value', async () => {
    const w = await setup.server.write('mq-1', {
      path: '/3303/0/5750',
      mode: 'replace',
      content: singleResource(5750, Value.string('greenhouse')),
    });
    assert.equal(w.code, Code.Changed);
    const r = await setup.server.read('mq-1', { path: '/3303/0/5750' });
    assert.equal((r.content as Lwm2mSingleResource).value.value, 'greenhouse');
    const u = await setup.server.write('mq-1', {
      path: '/3303/0',
      mode: 'update',
      content: objectInstance(0, [singleResource(5750, Value.string('field'))]),
    });
    assert.equal(u.code, Code.Changed);
    const r2 = await setup.server.read('mq-1', { path: '/3303/0/5750' });
    assert.equal((r2.content as Lwm2mSingleResource).value.value, 'field');
  });

  test('Write-Attributes (14) and Execute (16)', async () => {
    const wa = await setup.server.writeAttributes('mq-1', {
      path: '/3303/0/5700',
      attributes: { pmin: 1, lt: 5, gt: 30 },
    });
    assert.equal(wa.code, Code.Changed);
    const d = await setup.server.discover('mq-1', { path: '/3303/0/5700' });
    const link = d.links?.find((l) => l.path === '/3303/0/5700');
    assert.equal(link?.attributes.lt, '5');
    assert.equal(link?.attributes.pmin, '1');
    const x = await setup.server.execute('mq-1', { path: '/3303/0/5605' });
    assert.equal(x.code, Code.Changed);
    const bad = await setup.server.execute('mq-1', { path: '/3/0/0' });
    assert.equal(bad.code, Code.MethodNotAllowed);
  });

  test('Create (17) and Delete (18) of an instance', async () => {
    const c = await setup.server.create('mq-1', {
      objectId: 3303,
      instanceId: 7,
      resources: [singleResource(5700, Value.float(3.5))],
    });
    assert.equal(c.code, Code.Created);
    assert.equal(c.location, '/3303/7');
    const r = await setup.server.read('mq-1', { path: '/3303/7/5700' });
    assert.equal((r.content as Lwm2mSingleResource).value.value, 3.5);
    const d = await setup.server.delete('mq-1', { path: '/3303/7' });
    assert.equal(d.code, Code.Deleted);
    assert.equal((await setup.server.read('mq-1', { path: '/3303/7' })).code, Code.NotFound);
  });

  test('Read-Composite (10) and Write-Composite (15)', async () => {
    const rc = await setup.server.readComposite('mq-1', { paths: ['/3/0/0', '/3303/0/5700'] });
    assert.equal(rc.code, Code.Content);
    assert.equal((rc.content.get('/3/0/0') as Lwm2mSingleResource).value.value, 'Tandem');
    const wc = await setup.server.writeComposite('mq-1', {
      values: [{ path: Lwm2mPath.parse('/3303/0/5750'), value: Value.string('barn') }],
    });
    assert.equal(wc.code, Code.Changed);
    const r = await setup.server.read('mq-1', { path: '/3303/0/5750' });
    assert.equal((r.content as Lwm2mSingleResource).value.value, 'barn');
  });

  test('Observe (20) gives the value, Notify (23) reports changes, Cancel-Observe (22) ends it', async () => {
    const o = await setup.server.observe('mq-1', { path: '/3303/0/5700' });
    assert.equal(o.code, Code.Content);
    assert.ok(o.observation?.active);
    const notified = once(setup.server, 'notification') as Promise<[NotificationEvent]>;
    const sensor = device.client.objects.get(3303) as TemperatureObject;
    sensor.sensor(0).measure(31.5);
    const [event] = await notified;
    assert.equal(event.code, Code.Content);
    assert.equal((event.content as Lwm2mSingleResource).value.value, 31.5);
    assert.equal(setup.server.observations('mq-1').length, 1);
    const cancelled = await setup.server.cancelObservation(o.observation!, { active: true });
    assert.equal(cancelled?.code, Code.Content);
    assert.equal(setup.server.observations('mq-1').length, 0);
  });

  test('Send (24) reaches the server as a send event', async () => {
    const sent = once(setup.server, 'send') as Promise<[SendEvent]>;
    const code = await device.client.send(['/3303/0/5700'], { format: ContentFormat.SENML_JSON });
    assert.equal(code, Code.Changed);
    const [event] = await sent;
    assert.equal(event.registration.endpoint, 'mq-1');
    assert.equal(event.values[0]?.path.toString(), '/3303/0/5700');
  });

  test('Update (7) and De-register (8)', async () => {
    const updated = once(setup.server, 'updated') as Promise<[UpdatedEvent]>;
    await device.client.update({ lifetime: 600 });
    const [u] = await updated;
    assert.equal(u.current.lifetime, 600);
    assert.equal(u.moved, false);
    const gone = once(setup.server, 'deregistered') as Promise<[Registration]>;
    await device.client.deregister();
    assert.equal((await gone)[0].endpoint, 'mq-1');
    assert.equal(await setup.server.getRegistration('mq-1'), undefined);
  });
});
