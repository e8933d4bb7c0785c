import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, type TestContext, test } from 'node:test';
import type { Lwm2mClient, SensorInstance } from '../../src/lwm2m/client/index.js';
import { httpApi } from '../helpers/http-api.js';
import { lwm2mDevice } from '../helpers/lwm2m-device.js';
import { startTandem } from '../helpers/tandem.js';

/** A started Tandem, one registered LwM2M device (our client over UDP) and an HTTP caller. */
async function setup(t: TestContext, name = 'dev1') {
  const tandem = await startTandem(t);
  let rebooted = 0;
  const device = await lwm2mDevice(t, tandem, name, { onReboot: () => rebooted++ });
  await device.register();
  const { call } = await httpApi(tandem);
  return { tandem, device, call, rebooted: () => rebooted };
}

const sensor = (device: Lwm2mClient) =>
  device.objects.get(3303)!.instances.get(0) as SensorInstance;

describe('live operations on an LwM2M device (REST)', () => {
  test('reads a resource with its type, unit and name from the registry', async (t) => {
    const { call } = await setup(t);
    const res = await call('GET', '/api/devices/dev1/3303/0/5700', { as: 'read-only' });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, {
      path: '/3303/0/5700',
      value: 20,
      type: 'float',
      unit: 'Cel',
      name: 'Sensor Value',
    });
  });

  test('reads a multiple resource, an instance, an object and a resource instance', async (t) => {
    const { call } = await setup(t);
    const multiple = await call('GET', '/api/devices/dev1/3/0/6');
    assert.equal(multiple.status, 200);
    assert.deepEqual(multiple.json, {
      path: '/3/0/6',
      values: { 0: 1, 1: 5 },
      type: 'integer',
      name: 'Available Power Sources',
    });
    const instance = await call('GET', '/api/devices/dev1/3/0');
    assert.equal(instance.status, 200);
    const resources = instance.json!.resources as Record<string, Record<string, unknown>>;
    assert.equal(instance.json!.path, '/3/0');
    assert.deepEqual(resources['0'], {
      path: '/3/0/0',
      value: 'Tandem Labs',
      type: 'string',
      name: 'Manufacturer',
    });
    const object = await call('GET', '/api/devices/dev1/3303');
    assert.equal(object.status, 200);
    const instances = object.json!.instances as Record<string, Record<string, unknown>>;
    assert.equal(object.json!.path, '/3303');
    assert.equal(
      (instances['0']!.resources as Record<string, { value: unknown }>)['5700']!.value,
      20,
    );
    const ri = await call('GET', '/api/devices/dev1/3/0/6/1');
    assert.equal(ri.status, 200);
    assert.equal(ri.json!.value, 5);
    assert.equal(ri.json!.path, '/3/0/6/1');
  });

  test('?format= forces the wire format; an unknown format is a 400', async (t) => {
    const { call } = await setup(t);
    for (const format of ['tlv', 'senml-json', 'senml-cbor', '11542', 'text']) {
      const res = await call('GET', `/api/devices/dev1/3/0/0?format=${format}`);
      assert.equal(res.status, 200, format);
      assert.equal(res.json!.value, 'Tandem Labs', format);
    }
    const bad = await call('GET', '/api/devices/dev1/3/0/0?format=xml');
    assert.equal(bad.status, 400);
    assert.equal(bad.json!.code, 'TANDEM_ERR_VALIDATION');
    assert.equal(bad.json!.field, 'format');
  });

  test('writes a resource (replace), an instance (partial update) and a resource instance', async (t) => {
    const { call } = await setup(t);
    const put = await call('PUT', '/api/devices/dev1/3/0/14', {
      as: 'operator',
      body: { value: '+01:00' },
    });
    assert.equal(put.status, 204);
    assert.equal((await call('GET', '/api/devices/dev1/3/0/14')).json!.value, '+01:00');

    const patch = await call('PATCH', '/api/devices/dev1/3/0', {
      as: 'operator',
      body: { resources: { 14: '+02:00', 15: 'Europe/Paris' } },
    });
    assert.equal(patch.status, 204);
    const after = await call('GET', '/api/devices/dev1/3/0');
    const resources = after.json!.resources as Record<string, { value: unknown }>;
    assert.equal(resources['14']!.value, '+02:00');
    assert.equal(resources['15']!.value, 'Europe/Paris');
    assert.equal(resources['0']!.value, 'Tandem Labs', 'a partial update keeps the others');

    const write = await call('PUT', '/api/devices/dev1/3303/0/5750', {
      as: 'operator',
      body: { value: 'greenhouse' },
    });
    assert.equal(write.status, 204);
    assert.equal((await call('GET', '/api/devices/dev1/3303/0/5750')).json!.value, 'greenhouse');
  });

  test('a write whose value does not fit the resource type is a 400 naming the field', async (t) => {
    const { call } = await setup(t);
    const res = await call('PUT', '/api/devices/dev1/3/0/14', {
      as: 'operator',
      body: { value: 7 },
    });
    assert.equal(res.status, 400);
    assert.equal(res.json!.code, 'TANDEM_ERR_VALIDATION');
    assert.equal(res.json!.field, 'value');
  });

  test('executes Reboot, with and without arguments', async (t) => {
    const s = await setup(t);
    const res = await s.call('POST', '/api/devices/dev1/3/0/4', { as: 'operator' });
    assert.equal(res.status, 204);
    assert.equal(s.rebooted(), 1);
    const withArgs = await s.call('POST', '/api/devices/dev1/3/0/4', {
      as: 'operator',
      text: "0='now'",
    });
    assert.equal(withArgs.status, 204);
    assert.equal(s.rebooted(), 2);
    const json = await s.call('POST', '/api/devices/dev1/3/0/4', {
      as: 'operator',
      body: { arguments: '0,1' },
    });
    assert.equal(json.status, 204);
    assert.equal(s.rebooted(), 3);
    const badArgs = await s.call('POST', '/api/devices/dev1/3/0/4', {
      as: 'operator',
      text: 'not arguments',
    });
    assert.equal(badArgs.status, 400);
  });

  test('creates an instance (with and without an id) and deletes it', async (t) => {
    const { call, device } = await setup(t);
    const created = await call('POST', '/api/devices/dev1/3303', {
      as: 'operator',
      body: { id: 5, resources: { 5700: 18.5, 5701: 'Cel' } },
    });
    assert.equal(created.status, 201);
    assert.deepEqual(created.json, { path: '/3303/5' });
    assert.equal(created.headers.get('location'), '/api/devices/dev1/3303/5');
    assert.equal((await call('GET', '/api/devices/dev1/3303/5/5700')).json!.value, 18.5);

    const chosen = await call('POST', '/api/devices/dev1/3303', {
      as: 'operator',
      body: { resources: { 5700: 1 } },
    });
    assert.equal(chosen.status, 201);
    assert.equal(chosen.json!.path, '/3303/1');

    const deleted = await call('DELETE', '/api/devices/dev1/3303/5', { as: 'operator' });
    assert.equal(deleted.status, 204);
    assert.equal(device.objects.get(3303)!.instances.has(5), false);
    const gone = await call('GET', '/api/devices/dev1/3303/5');
    assert.equal(gone.status, 404);
    assert.equal(gone.json!.code, 'TANDEM_ERR_LWM2M_NOT_FOUND');
    assert.equal(gone.json!.coapCode, '4.04');
  });

  test('discovers an object and writes attributes from the query or the body', async (t) => {
    const { call } = await setup(t);
    const attrs = await call('PUT', '/api/devices/dev1/3303/0/5700/attributes?pmin=5&pmax=60', {
      as: 'operator',
    });
    assert.equal(attrs.status, 204, JSON.stringify(attrs.json));
    const body = await call('PUT', '/api/devices/dev1/3303/0/attributes', {
      as: 'operator',
      body: { pmax: 120 },
    });
    assert.equal(body.status, 204);
    const discovered = await call('GET', '/api/devices/dev1/3303/0/discover');
    assert.equal(discovered.status, 200);
    const links = discovered.json!.links as { path: string; attributes: Record<string, unknown> }[];
    assert.deepEqual(links.find((l) => l.path === '/3303/0')?.attributes, { pmax: '120' });
    assert.deepEqual(links.find((l) => l.path === '/3303/0/5700')?.attributes, {
      pmin: '5',
      pmax: '60',
    });
    const bad = await call('PUT', '/api/devices/dev1/3303/0/5700/attributes?pmin=60&pmax=5', {
      as: 'operator',
    });
    assert.equal(bad.status, 400);
  });

  test('observe answers the current value, notifications follow, and DELETE cancels', async (t) => {
    const { call, device, tandem } = await setup(t);
    const observed = await call('POST', '/api/devices/dev1/3303/0/5700/observe', {
      as: 'operator',
    });
    assert.equal(observed.status, 200);
    assert.equal(observed.json!.value, 20);
    assert.equal(observed.json!.unit, 'Cel');
    assert.equal(typeof (observed.json!.observation as { id: string }).id, 'string');
    assert.equal(tandem.lwm2m.server.observations('dev1').length, 1);
    const notified = once(tandem.lwm2m.server, 'notification');
    sensor(device).measure(23.25);
    await notified;
    const cancelled = await call('DELETE', '/api/devices/dev1/3303/0/5700/observe', {
      as: 'operator',
    });
    assert.equal(cancelled.status, 204);
    assert.equal(tandem.lwm2m.server.observations('dev1').length, 0);
    const again = await call('DELETE', '/api/devices/dev1/3303/0/5700/observe', {
      as: 'operator',
    });
    assert.equal(again.status, 404);
    assert.equal(again.json!.code, 'TANDEM_ERR_OBSERVATION_NOT_FOUND');
  });

  test('observe-composite watches several paths; the observations are listed and cancelled', async (t) => {
    const { call, device, tandem } = await setup(t);
    const observed = await call(
      'POST',
      '/api/devices/dev1/composite/observe?paths=/3303/0/5700,/3/0/9',
      {
        as: 'operator',
      },
    );
    assert.equal(observed.status, 200);
    const nodes = observed.json!.nodes as Record<string, { value: unknown }>;
    assert.equal(nodes['/3303/0/5700']!.value, 20);
    assert.equal(nodes['/3/0/9']!.value, 100);
    const id = (observed.json!.observation as { id: string }).id;
    const listed = await call('GET', '/api/devices/dev1/observations');
    assert.deepEqual(listed.json, {
      observations: [{ id, paths: ['/3303/0/5700', '/3/0/9'], composite: true }],
    });
    const notified = once(tandem.lwm2m.server, 'notification');
    sensor(device).measure(30);
    const [event] = (await notified) as [{ compositeContent?: ReadonlyMap<string, unknown> }];
    assert.ok(event.compositeContent?.has('/3303/0/5700'));
    const cancelled = await call(
      'DELETE',
      '/api/devices/dev1/composite/observe?paths=/3/0/9,/3303/0/5700',
      {
        as: 'operator',
      },
    );
    assert.equal(cancelled.status, 204);
    assert.deepEqual((await call('GET', '/api/devices/dev1/observations')).json, {
      observations: [],
    });
  });

  test('reads and writes several paths at once (composite, LwM2M 1.1)', async (t) => {
    const { call } = await setup(t);
    const read = await call('GET', '/api/devices/dev1/composite?paths=/3/0/0,/3303/0/5700');
    assert.equal(read.status, 200);
    const nodes = read.json!.nodes as Record<string, { value: unknown; unit?: string }>;
    assert.equal(nodes['/3/0/0']!.value, 'Tandem Labs');
    assert.equal(nodes['/3303/0/5700']!.value, 20);
    assert.equal(nodes['/3303/0/5700']!.unit, 'Cel');
    const write = await call('PUT', '/api/devices/dev1/composite', {
      as: 'operator',
      body: { values: { '/3/0/14': '+03:00', '/3303/0/5750': 'attic' } },
    });
    assert.equal(write.status, 204);
    const after = await call('GET', '/api/devices/dev1/composite?paths=/3/0/14,/3303/0/5750');
    const written = after.json!.nodes as Record<string, { value: unknown }>;
    assert.equal(written['/3/0/14']!.value, '+03:00');
    assert.equal(written['/3303/0/5750']!.value, 'attic');
  });

  test('device answers map to HTTP statuses with the CoAP code', async (t) => {
    const { call } = await setup(t);
    const missing = await call('GET', '/api/devices/dev1/3/0/999');
    assert.equal(missing.status, 404);
    assert.equal(missing.json!.code, 'TANDEM_ERR_LWM2M_NOT_FOUND');
    assert.equal(missing.json!.coapCode, '4.04');
    // Manufacturer is read-only (E.4): the device refuses the write with 4.05.
    const readOnly = await call('PUT', '/api/devices/dev1/3/0/0', {
      as: 'operator',
      body: { value: 'x' },
    });
    assert.equal(readOnly.status, 405);
    assert.equal(readOnly.json!.code, 'TANDEM_ERR_LWM2M_METHOD_NOT_ALLOWED');
    assert.equal(readOnly.json!.coapCode, '4.05');
    // Device (object 3) has one mandatory instance: Delete is refused with 4.05.
    const single = await call('DELETE', '/api/devices/dev1/3/0', { as: 'operator' });
    assert.equal(single.status, 405);
    const notExecutable = await call('POST', '/api/devices/dev1/3/0/0', { as: 'operator' });
    assert.equal(notExecutable.status, 405);
    assert.equal(notExecutable.json!.coapCode, '4.05');
  });

  test('an unknown device is 404 TANDEM_ERR_DEVICE_NOT_FOUND; a known offline one TANDEM_ERR_DEVICE_NOT_REGISTERED', async (t) => {
    const { call, tandem } = await setup(t);
    const unknown = await call('GET', '/api/devices/nobody/3/0/0');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json!.code, 'TANDEM_ERR_DEVICE_NOT_FOUND');
    await tandem.store.devices.create({ id: 'sleeper', protocol: 'lwm2m' });
    const offline = await call('GET', '/api/devices/sleeper/3/0/0');
    assert.equal(offline.status, 404);
    assert.equal(offline.json!.code, 'TANDEM_ERR_DEVICE_NOT_REGISTERED');
    const badPath = await call('GET', '/api/devices/dev1/3/x');
    assert.equal(badPath.status, 400);
  });

  test('a device that does not answer within ?timeout is a 504 TANDEM_ERR_DEVICE_TIMEOUT', async (t) => {
    const { call, device } = await setup(t);
    // The device goes silent: its socket is closed, the registration stays.
    await device.coap.close();
    const res = await call('GET', '/api/devices/dev1/3/0/0?timeout=300');
    assert.equal(res.status, 504);
    assert.equal(res.json!.code, 'TANDEM_ERR_DEVICE_TIMEOUT');
    const tooLong = await call('GET', '/api/devices/dev1/3/0/0?timeout=600001');
    assert.equal(tooLong.status, 400);
  });

  test('read-only tokens read but may not write, execute or observe; operators may', async (t) => {
    const { call } = await setup(t);
    assert.equal((await call('GET', '/api/devices/dev1/3/0/0', { as: 'read-only' })).status, 200);
    const write = await call('PUT', '/api/devices/dev1/3/0/14', {
      as: 'read-only',
      body: { value: '+01:00' },
    });
    assert.equal(write.status, 403);
    assert.equal(write.json!.code, 'TANDEM_ERR_FORBIDDEN');
    assert.equal((await call('POST', '/api/devices/dev1/3/0/4', { as: 'read-only' })).status, 403);
    assert.equal(
      (await call('POST', '/api/devices/dev1/3303/0/5700/observe', { as: 'read-only' })).status,
      403,
    );
    // Anonymous reads are the loopback development mode's; anonymous writes never are.
    assert.equal((await call('GET', '/api/devices/dev1/3/0/0')).status, 200);
    const anonymous = await call('PUT', '/api/devices/dev1/3/0/14', { body: { value: 'x' } });
    assert.equal(anonymous.status, 401);
    assert.equal(
      (await call('PUT', '/api/devices/dev1/3/0/14', { as: 'operator', body: { value: '+05:00' } }))
        .status,
      204,
    );
  });

  test('the operations are in the OpenAPI document', async (t) => {
    const { call } = await setup(t);
    const doc = await call('GET', '/api/openapi.json');
    const paths = doc.json!.paths as Record<string, Record<string, unknown>>;
    assert.ok(paths['/api/devices/{id}/{object}/{instance}/{resource}']?.get);
    assert.ok(paths['/api/devices/{id}/{object}/{instance}/{resource}']?.post);
    assert.ok(paths['/api/devices/{id}/{object}/{instance}']?.patch);
    assert.ok(paths['/api/devices/{id}/{object}/observe']?.post);
    assert.ok(paths['/api/devices/{id}/composite']?.put);
  });
});
