/**
 * Every Device Management, Service Enablement and Information Reporting operation end to end:
 * our server and our client over UDP on 127.0.0.1, including the error answers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Code } from '../../../src/coap/code.js';
import type {
  DeviceObject,
  FirmwareUpdateObject,
  SensorObject,
} from '../../../src/lwm2m/client/index.js';
import { ContentFormat } from '../../../src/lwm2m/codec/content-format.js';
import {
  type Lwm2mMultipleResource,
  type Lwm2mObject,
  type Lwm2mObjectInstance,
  type Lwm2mSingleResource,
  multipleResource,
  objectInstance,
  singleResource,
} from '../../../src/lwm2m/node/lwm2m-node.js';
import { Lwm2mPath } from '../../../src/lwm2m/node/lwm2m-path.js';
import { Value } from '../../../src/lwm2m/node/lwm2m-value.js';
import {
  Lwm2mError,
  type NotificationEvent,
  type SendEvent,
} from '../../../src/lwm2m/server/index.js';
import { nextEvent, startClient, startServer, waitFor } from './helpers.js';

type Server = Awaited<ReturnType<typeof startServer>>;
type Client = Awaited<ReturnType<typeof startClient>>;

const single = (n: unknown) => (n as Lwm2mSingleResource).value.value;

describe('LwM2M operations, our server with our 1.1 client over UDP', () => {
  let s: Server;
  let c: Client;
  before(async () => {
    s = await startServer();
    c = await startClient(s.port, { name: 'dev-11', lwm2mVersion: '1.1' });
    await c.client.register();
  });
  after(async () => {
    await c.close();
    await s.close();
  });

  test('reads a single resource as the device format (LwM2M-TS-Core 1.1 §6.3.1)', async () => {
    const r = await s.server.read('dev-11', { path: '/3/0/0' });
    assert.equal(r.code, Code.Content);
    assert.equal(single(r.content), 'Tandem');
  });

  test('reads an object instance in SenML CBOR, announced by the 1.1 client (LwM2M-TS-Core 1.1 §7.3)', async () => {
    const reg = (await s.server.getRegistration('dev-11'))!;
    assert.equal(s.server.deviceContext(reg).format, ContentFormat.SENML_CBOR);
    const r = await s.server.read('dev-11', { path: '/3/0' });
    assert.equal(r.code, Code.Content);
    const inst = r.content as Lwm2mObjectInstance;
    assert.equal(inst.kind, 'object-instance');
    assert.equal(single(inst.resources.get(2)), 'SN-1');
    // E.4: Reboot (4) is executable only and is not part of a Read.
    assert.equal(inst.resources.has(4), false);
  });

  test('reads a whole object, in TLV when asked (LwM2M-TS-Core 1.1 §6.3.1)', async () => {
    const r = await s.server.read('dev-11', { path: '/3303', format: ContentFormat.TLV });
    assert.equal(r.code, Code.Content);
    assert.equal(r.content?.kind, 'object');
  });

  test('reads a resource instance of a multiple resource (LwM2M-TS-Core 1.1 §6.3.1)', async () => {
    const r = await s.server.read('dev-11', { path: '/3/0/6/1' });
    assert.equal(r.code, Code.Content);
    assert.equal((r.content as { value: { value: number } }).value.value, 5);
  });

  test('answers 4.04 for an object, instance or resource the client does not have (LwM2M-TS-Core 1.1 §6.3.1)', async () => {
    assert.equal((await s.server.read('dev-11', { path: '/3442' })).code, Code.NotFound);
    assert.equal((await s.server.read('dev-11', { path: '/3/1' })).code, Code.NotFound);
    assert.equal((await s.server.read('dev-11', { path: '/3/0/21' })).code, Code.NotFound);
  });

  test('answers 4.05 when the model does not allow the operation (LwM2M-TS-Core 1.1 §6.3.1, §6.3.3, §6.3.5)', async () => {
    // E.6: Package (5/0/0) is write-only.
    assert.equal((await s.server.read('dev-11', { path: '/5/0/0' })).code, Code.MethodNotAllowed);
    // E.4: Manufacturer (3/0/0) is read-only.
    const w = await s.server.write('dev-11', {
      path: '/3/0/0',
      mode: 'replace',
      content: singleResource(0, Value.string('x')),
    });
    assert.equal(w.code, Code.MethodNotAllowed);
    // E.4: Battery level (3/0/9) is not executable.
    assert.equal(
      (await s.server.execute('dev-11', { path: '/3/0/9' })).code,
      Code.MethodNotAllowed,
    );
  });

  test('answers 4.06 when asked for a format the client cannot produce (LwM2M-TS-Core 1.1 §6.3.1)', async () => {
    const r = await s.server.read('dev-11', { path: '/3/0', format: ContentFormat.TEXT });
    assert.equal(r.code, Code.NotAcceptable);
    const r2 = await s.server.read('dev-11', { path: '/3/0/0', format: 4711 });
    assert.equal(r2.code, Code.NotAcceptable);
  });

  test('answers 4.01 for the Security object (LwM2M-TS-Core 1.1 Appendix E.1)', async () => {
    assert.equal((await s.server.read('dev-11', { path: '/0/0' })).code, Code.Unauthorized);
  });

  test('discovers an object with its version, instances, resources and dim (LwM2M-TS-Core 1.1 §6.3.2)', async () => {
    const d = await s.server.discover('dev-11', { path: '/3' });
    assert.equal(d.code, Code.Content);
    const paths = d.links.map((l) => l.path);
    assert.deepEqual(paths.slice(0, 2), ['/3', '/3/0']);
    assert.equal(d.links[0]!.attributes.ver, '1.2');
    assert.ok(paths.includes('/3/0/4'));
    assert.equal(d.links.find((l) => l.path === '/3/0/6')!.attributes.dim, '2');
  });

  test('writes a resource (replace, PUT) and reads it back (LwM2M-TS-Core 1.1 §6.3.3)', async () => {
    const w = await s.server.write('dev-11', {
      path: '/3/0/14',
      mode: 'replace',
      content: singleResource(14, Value.string('+01:00')),
    });
    assert.equal(w.code, Code.Changed);
    assert.equal(single((await s.server.read('dev-11', { path: '/3/0/14' })).content), '+01:00');
  });

  test('writes an object instance by partial update (POST) (LwM2M-TS-Core 1.1 §6.3.3)', async () => {
    const w = await s.server.write('dev-11', {
      path: '/1/0',
      mode: 'update',
      content: objectInstance(0, [
        singleResource(2, Value.integer(0)),
        singleResource(6, Value.boolean(true)),
      ]),
    });
    assert.equal(w.code, Code.Changed);
    const r = await s.server.read('dev-11', { path: '/1/0' });
    const inst = r.content as Lwm2mObjectInstance;
    assert.equal(single(inst.resources.get(2)), 0);
    assert.equal(single(inst.resources.get(6)), true);
    assert.equal(single(inst.resources.get(7)), 'U');
  });

  test('writes a multiple resource in TLV (LwM2M-TS-Core 1.1 §6.3.3, §7.4.3)', async () => {
    const w = await s.server.write('dev-11', {
      path: '/1/0/24',
      mode: 'replace',
      format: ContentFormat.TLV,
      content: multipleResource(24, 'objlnk', [
        [0, Value.objlnk(11, 0)],
        [1, Value.objlnk(11, 1)],
      ]),
    });
    assert.equal(w.code, Code.Changed);
    const r = await s.server.read('dev-11', { path: '/1/0/24' });
    assert.equal((r.content as Lwm2mMultipleResource).instances.size, 2);
  });

  test('adds resource instances by partial update of a multiple resource (LwM2M-TS-Core 1.1 §6.3.3)', async () => {
    const w = await s.server.write('dev-11', {
      path: '/1/0/24',
      mode: 'update',
      content: multipleResource(24, 'objlnk', [[5, Value.objlnk(11, 5)]]),
    });
    assert.equal(w.code, Code.Changed);
    const r = await s.server.read('dev-11', { path: '/1/0/24' });
    assert.deepEqual([...(r.content as Lwm2mMultipleResource).instances.keys()], [0, 1, 5]);
    await assert.rejects(
      s.server.write('dev-11', {
        path: '/3/0/14',
        mode: 'update',
        content: singleResource(14, Value.string('x')),
      }),
      (e: unknown) => e instanceof Lwm2mError && e.code === 'LWM2M_ERR_INVALID_REQUEST',
    );
  });

  test('answers 4.00 to a Write whose payload does not decode (LwM2M-TS-Core 1.1 §6.3.3)', async () => {
    const response = await s.endpoint.request((await s.server.getRegistration('dev-11'))!.peer, {
      code: Code.Put,
      path: '/3/0/14',
      contentFormat: ContentFormat.TLV,
      payload: Buffer.from([0xc8, 0x0e, 0x20, 0x01]),
    });
    assert.equal(response.code, Code.BadRequest);
  });

  test('answers 4.15 to a Write in a format the client does not decode (LwM2M-TS-Core 1.1 §6.3.3)', async () => {
    const response = await s.endpoint.request((await s.server.getRegistration('dev-11'))!.peer, {
      code: Code.Put,
      path: '/3/0/14',
      contentFormat: 4711,
      payload: 'x',
    });
    assert.equal(response.code, Code.UnsupportedContentFormat);
  });

  test('writes attributes and discovers them (LwM2M-TS-Core 1.1 §6.3.4)', async () => {
    const w = await s.server.writeAttributes('dev-11', {
      path: '/3303/0/5700',
      attributes: { pmin: 10, pmax: 60, gt: 30, lt: 10, st: 2 },
    });
    assert.equal(w.code, Code.Changed);
    const d = await s.server.discover('dev-11', { path: '/3303/0/5700' });
    assert.deepEqual(d.links[0], {
      path: '/3303/0/5700',
      attributes: { pmin: '10', pmax: '60', gt: '30', lt: '10', st: '2' },
    });
    const cleared = await s.server.writeAttributes('dev-11', {
      path: '/3303/0/5700',
      attributes: { gt: null, lt: null, st: null, pmin: null, pmax: null },
    });
    assert.equal(cleared.code, Code.Changed);
    assert.deepEqual(
      (await s.server.discover('dev-11', { path: '/3303/0/5700' })).links[0]!.attributes,
      {},
    );
  });

  test('refuses gt on a string resource before sending, and the client answers 4.00 too (LwM2M-TS-Core 1.1 §5.1.2)', async () => {
    await assert.rejects(
      s.server.writeAttributes('dev-11', { path: '/3/0/0', attributes: { gt: 1 } }),
      (e: unknown) => e instanceof Lwm2mError && e.code === 'LWM2M_ERR_INVALID_REQUEST',
    );
    const response = await s.endpoint.request((await s.server.getRegistration('dev-11'))!.peer, {
      code: Code.Put,
      path: '/3/0/0',
      query: ['gt=1'],
    });
    assert.equal(response.code, Code.BadRequest);
  });

  test('executes with arguments, and refuses malformed ones (LwM2M-TS-Core 1.1 §5.4.5, §6.3.5)', async () => {
    const sw = await s.server.execute('dev-11', { path: '/9/0/6', arguments: { 0: undefined } });
    assert.equal(sw.code, Code.MethodNotAllowed); // app 1.0.0 is not installed yet
    const e = await s.server.execute('dev-11', { path: '/3303/0/5605' });
    assert.equal(e.code, Code.Changed);
    const response = await s.endpoint.request((await s.server.getRegistration('dev-11'))!.peer, {
      code: Code.Post,
      path: '/3303/0/5605',
      payload: "0='unterminated",
    });
    assert.equal(response.code, Code.BadRequest);
  });

  test('creates and deletes an object instance (LwM2M-TS-Core 1.1 §6.3.6, §6.3.7)', async () => {
    const created = await s.server.create('dev-11', {
      objectId: 3303,
      instanceId: 7,
      resources: [
        singleResource(5700, Value.float(21.5)),
        singleResource(5701, Value.string('Cel')),
      ],
    });
    assert.equal(created.code, Code.Created);
    assert.equal(created.location, '/3303/7');
    assert.equal(single((await s.server.read('dev-11', { path: '/3303/7/5700' })).content), 21.5);
    const again = await s.server.create('dev-11', {
      objectId: 3303,
      instanceId: 7,
      resources: [singleResource(5700, Value.float(1))],
    });
    assert.equal(again.code, Code.BadRequest);
    assert.equal((await s.server.delete('dev-11', { path: '/3303/7' })).code, Code.Deleted);
    assert.equal((await s.server.delete('dev-11', { path: '/3303/7' })).code, Code.NotFound);
  });

  test('creates without an instance ID in TLV, the client choosing it (LwM2M 1.0 §5.4.5)', async () => {
    const created = await s.server.create('dev-11', {
      objectId: 3303,
      format: ContentFormat.TLV,
      resources: [singleResource(5700, Value.float(3))],
    });
    assert.equal(created.code, Code.Created);
    assert.equal(created.location, '/3303/1');
    assert.equal((await s.server.delete('dev-11', { path: '/3303/1' })).code, Code.Deleted);
  });

  test('refuses Create on an object with a fixed set of instances and Delete of the Device instance with 4.05', async () => {
    const c1 = await s.server.create('dev-11', { objectId: 3, instanceId: 1, resources: [] });
    assert.equal(c1.code, Code.MethodNotAllowed);
    assert.equal((await s.server.delete('dev-11', { path: '/3/0' })).code, Code.MethodNotAllowed);
  });

  test('reads several paths with Read-Composite (LwM2M-TS-Core 1.1 §6.3.8)', async () => {
    const r = await s.server.readComposite('dev-11', { paths: ['/3/0/0', '/3303/0/5700', '/1/0'] });
    assert.equal(r.code, Code.Content);
    assert.equal(single(r.content.get('/3/0/0')), 'Tandem');
    assert.equal(single(r.content.get('/3303/0/5700')), 20);
    assert.equal(r.content.get('/1/0')?.kind, 'object-instance');
    const json = await s.server.readComposite('dev-11', {
      paths: ['/3/0/2'],
      format: ContentFormat.SENML_JSON,
    });
    assert.equal(single(json.content.get('/3/0/2')), 'SN-1');
  });

  test('writes several resources with Write-Composite, checking all before writing (LwM2M-TS-Core 1.1 §6.3.9)', async () => {
    const ok = await s.server.writeComposite('dev-11', {
      values: [
        { path: Lwm2mPath.parse('/3/0/14'), value: Value.string('+02:00') },
        { path: Lwm2mPath.parse('/3203/0/5650'), value: Value.float(4.5) },
      ],
    });
    assert.equal(ok.code, Code.Changed);
    assert.equal(single((await s.server.read('dev-11', { path: '/3203/0/5650' })).content), 4.5);
    const refused = await s.server.writeComposite('dev-11', {
      values: [
        { path: Lwm2mPath.parse('/3/0/14'), value: Value.string('+03:00') },
        { path: Lwm2mPath.parse('/3/0/0'), value: Value.string('nope') },
      ],
    });
    assert.equal(refused.code, Code.MethodNotAllowed);
    assert.equal(single((await s.server.read('dev-11', { path: '/3/0/14' })).content), '+02:00');
  });

  test('observes a resource, gets notifications, cancels actively (LwM2M-TS-Core 1.1 §6.4.1, §6.4.2)', async () => {
    const o = await s.server.observe('dev-11', { path: '/3303/0/5700' });
    assert.equal(o.code, Code.Content);
    assert.ok(o.observation?.active);
    const temperature = c.client.objects.get(3303) as SensorObject;
    const n = nextEvent<NotificationEvent>(s.server, 'notification');
    temperature.sensor(0).measure(25.5);
    const event = await n;
    assert.equal(event.observation.id, o.observation!.id);
    assert.equal(single(event.content), 25.5);
    const cancelled = await s.server.cancelObservation(o.observation!, { active: true });
    assert.equal(cancelled?.code, Code.Content);
    assert.equal(s.server.observations('dev-11').length, 0);
    await waitFor(() => c.client.observationCount === 0);
  });

  test('observes passively cancelled: the next notification is answered with RST (RFC 7641 §3.6)', async () => {
    const o = await s.server.observe('dev-11', { path: '/3/0/9' });
    assert.equal(c.client.observationCount, 1);
    await s.server.cancelObservation(o.observation!);
    (c.client.objects.get(3) as DeviceObject).device.set(9, Value.integer(50));
    await waitFor(() => c.client.observationCount === 0);
  });

  test('ends an observation with the error notification of a deleted instance (RFC 7641 §3.2)', async () => {
    await s.server.create('dev-11', {
      objectId: 3303,
      instanceId: 3,
      resources: [singleResource(5700, Value.float(1))],
    });
    const o = await s.server.observe('dev-11', { path: '/3303/3' });
    const n = nextEvent<NotificationEvent>(s.server, 'notification');
    await s.server.delete('dev-11', { path: '/3303/3' });
    const event = await n;
    assert.equal(event.code, Code.NotFound);
    assert.equal(event.observation.id, o.observation!.id);
    assert.equal(s.server.observations('dev-11').length, 0);
  });

  test('observes several paths with Observe-Composite (LwM2M-TS-Core 1.1 §6.4.3)', async () => {
    const o = await s.server.observeComposite('dev-11', {
      paths: ['/3303/0/5700', '/3323/0/5700'],
    });
    assert.equal(o.code, Code.Content);
    assert.ok(o.observation);
    assert.equal(single(o.compositeContent?.get('/3323/0/5700')), 101325);
    const n = nextEvent<NotificationEvent>(s.server, 'notification');
    (c.client.objects.get(3323) as SensorObject).sensor(0).measure(99000);
    const event = await n;
    assert.equal(single(event.compositeContent?.get('/3323/0/5700')), 99000);
    const cancelled = await s.server.cancelObservation(o.observation!, { active: true });
    assert.equal(cancelled?.code, Code.Content);
  });

  test('receives Send from the device, decoded with the model (LwM2M-TS-Core 1.1 §6.4.4)', async () => {
    const sent = nextEvent<SendEvent>(s.server, 'send');
    const code = await c.client.send(['/3303/0/5700', '/3/0/9']);
    assert.equal(code, Code.Changed);
    const event = await sent;
    assert.equal(event.registration.endpoint, 'dev-11');
    assert.deepEqual(
      event.values.map((v) => v.path.toString()),
      ['/3303/0/5700', '/3/0/9'],
    );
    assert.equal(event.contentFormat, ContentFormat.SENML_CBOR);
  });

  test('drives the firmware update state machine (LwM2M-TS-Core 1.1 Appendix E.6)', async () => {
    const fw = (c.client.objects.get(5) as FirmwareUpdateObject).firmware;
    const write = await s.server.write('dev-11', {
      path: '/5/0/0',
      mode: 'replace',
      content: singleResource(0, Value.opaque(Buffer.from('firmware image'))),
    });
    assert.equal(write.code, Code.Changed);
    assert.equal(single((await s.server.read('dev-11', { path: '/5/0/3' })).content), 2);
    assert.equal((await s.server.execute('dev-11', { path: '/5/0/2' })).code, Code.Changed);
    await waitFor(() => fw.state === 0);
    assert.equal(single((await s.server.read('dev-11', { path: '/5/0/5' })).content), 1);
    // E.6: Update outside the Downloaded state is refused.
    assert.equal(
      (await s.server.execute('dev-11', { path: '/5/0/2' })).code,
      Code.MethodNotAllowed,
    );
  });

  test('drives software management install and activate (OMA object 9)', async () => {
    const created = await s.server.create('dev-11', {
      objectId: 9,
      instanceId: 1,
      resources: [singleResource(0, Value.string('tool')), singleResource(1, Value.string('2.0'))],
    });
    assert.equal(created.code, Code.Created);
    const w = await s.server.write('dev-11', {
      path: '/9/1/2',
      mode: 'replace',
      content: singleResource(2, Value.opaque(Buffer.from('pkg'))),
    });
    assert.equal(w.code, Code.Changed);
    assert.equal((await s.server.execute('dev-11', { path: '/9/1/4' })).code, Code.Changed);
    assert.equal((await s.server.execute('dev-11', { path: '/9/1/10' })).code, Code.Changed);
    assert.equal(single((await s.server.read('dev-11', { path: '/9/1/12' })).content), true);
    assert.equal(single((await s.server.read('dev-11', { path: '/9/1/7' })).content), 4);
  });

  test('reads an object larger than one datagram through Block2 (RFC 7959 §2.4)', async () => {
    for (let i = 10; i < 70; i++) {
      const created = await s.server.create('dev-11', {
        objectId: 3303,
        instanceId: i,
        resources: [
          singleResource(5700, Value.float(i + 0.5)),
          singleResource(5701, Value.string('Cel')),
        ],
      });
      assert.equal(created.code, Code.Created);
    }
    const before = s.endpoint.stats.blockwiseTransfers;
    const r = await s.server.read('dev-11', { path: '/3303', format: ContentFormat.SENML_JSON });
    assert.equal(r.code, Code.Content);
    const instances = (r.content as Lwm2mObject).instances;
    assert.ok(instances.size >= 61);
    assert.equal(single(instances.get(69)!.resources.get(5700)), 69.5);
    assert.ok(s.endpoint.stats.blockwiseTransfers > before);
    for (let i = 10; i < 70; i++) await s.server.delete('dev-11', { path: `/3303/${i}` });
  });

  test('refuses operations on paths of the wrong level before sending (LwM2M-TS-Core 1.1 §6.3)', async () => {
    const invalid = (e: unknown) =>
      e instanceof Lwm2mError && e.code === 'LWM2M_ERR_INVALID_REQUEST';
    await assert.rejects(s.server.execute('dev-11', { path: '/3/0' }), invalid);
    await assert.rejects(s.server.delete('dev-11', { path: '/3' }), invalid);
    await assert.rejects(s.server.read('dev-11', { path: '/' }), invalid);
    await assert.rejects(
      s.server.write('dev-11', {
        path: '/3',
        mode: 'replace',
        content: singleResource(1, Value.string('x')),
      }),
      invalid,
    );
  });

  test('fails a request to an unknown endpoint with LWM2M_ERR_NOT_REGISTERED', async () => {
    await assert.rejects(
      s.server.read('nobody', { path: '/3/0' }),
      (e: unknown) =>
        e instanceof Lwm2mError &&
        e.code === 'LWM2M_ERR_NOT_REGISTERED' &&
        e.coapCode === Code.NotFound,
    );
  });
});
