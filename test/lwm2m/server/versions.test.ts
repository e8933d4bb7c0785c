/**
 * What the announced LwM2M version changes, end to end with our client over UDP: a 1.0 device
 * (TLV, no composite operations, no Send) and a 1.2 device (LwM2M CBOR, edge/con/hqmax).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Code } from '../../../src/coap/code.js';
import type { SensorObject } from '../../../src/lwm2m/client/index.js';
import { ContentFormat } from '../../../src/lwm2m/codec/content-format.js';
import { canEncode } from '../../../src/lwm2m/codec/lwm2m-codec.js';
import type {
  Lwm2mObjectInstance,
  Lwm2mSingleResource,
} from '../../../src/lwm2m/node/lwm2m-node.js';
import { singleResource } from '../../../src/lwm2m/node/lwm2m-node.js';
import { Value } from '../../../src/lwm2m/node/lwm2m-value.js';
import { Lwm2mError, type NotificationEvent } from '../../../src/lwm2m/server/index.js';
import { nextEvent, startClient, startServer } from './helpers.js';

const single = (n: unknown) => (n as Lwm2mSingleResource).value.value;

describe('an LwM2M 1.0 device (LwM2M-TS 1.0)', () => {
  let s: Awaited<ReturnType<typeof startServer>>;
  let c: Awaited<ReturnType<typeof startClient>>;
  before(async () => {
    s = await startServer();
    c = await startClient(s.port, { name: 'v10', lwm2mVersion: '1.0' });
    await c.client.register();
  });
  after(async () => {
    await c.close();
    await s.close();
  });

  test('is read in TLV by default (LwM2M-TS 1.0 §6.4)', async () => {
    const reg = (await s.server.getRegistration('v10'))!;
    assert.equal(s.server.deviceContext(reg).format, ContentFormat.TLV);
    const r = await s.server.read('v10', { path: '/3/0' });
    assert.equal(r.code, Code.Content);
    assert.equal(single((r.content as Lwm2mObjectInstance).resources.get(0)), 'Tandem');
  });

  test('is read in the old LwM2M JSON when asked (LwM2M-TS 1.0 §6.4.4)', async () => {
    const r = await s.server.read('v10', { path: '/3/0', format: ContentFormat.JSON });
    assert.equal(r.code, Code.Content);
    assert.equal(single((r.content as Lwm2mObjectInstance).resources.get(2)), 'SN-1');
  });

  test('gets no composite operation, neither from the server nor at the client (LwM2M-TS-Core 1.1 §6.3.8)', async () => {
    const notSupported = (e: unknown) =>
      e instanceof Lwm2mError && e.code === 'LWM2M_ERR_NOT_SUPPORTED';
    await assert.rejects(s.server.readComposite('v10', { paths: ['/3/0/0'] }), notSupported);
    await assert.rejects(s.server.writeComposite('v10', { values: [] }), notSupported);
    await assert.rejects(s.server.observeComposite('v10', { paths: ['/3/0/0'] }), notSupported);
    const peer = (await s.server.getRegistration('v10'))!.peer;
    const fetch = await s.endpoint.request(peer, {
      code: Code.Fetch,
      path: [],
      contentFormat: ContentFormat.SENML_JSON,
      payload: '[{"n":"/3/0/0"}]',
    });
    assert.equal(fetch.code, Code.MethodNotAllowed);
  });

  test('observes in TLV and creates without instance ID (LwM2M-TS 1.0 §5.4.5, §5.5.1)', async () => {
    const o = await s.server.observe('v10', { path: '/3303/0/5700' });
    assert.equal(o.code, Code.Content);
    const n = nextEvent<NotificationEvent>(s.server, 'notification');
    (c.client.objects.get(3303) as SensorObject).sensor(0).measure(30);
    assert.equal(single((await n).content), 30);
    await s.server.cancelObservation(o.observation!);
    const created = await s.server.create('v10', {
      objectId: 3303,
      resources: [singleResource(5700, Value.float(1))],
    });
    assert.equal(created.code, Code.Created);
    assert.equal(created.location, '/3303/1');
  });

  test('gets no resource-instance Write (LwM2M-TS 1.0 §5.4.3)', async () => {
    await assert.rejects(
      s.server.write('v10', {
        path: '/1/0/24/0',
        mode: 'replace',
        content: { kind: 'resource-instance', id: 0, value: Value.objlnk(1, 0) },
      }),
      (e: unknown) => e instanceof Lwm2mError && e.code === 'LWM2M_ERR_INVALID_REQUEST',
    );
  });
});

describe('an LwM2M 1.2 device (LwM2M-TS-Core 1.2)', () => {
  let s: Awaited<ReturnType<typeof startServer>>;
  let c: Awaited<ReturnType<typeof startClient>>;
  before(async () => {
    s = await startServer();
    c = await startClient(s.port, { name: 'v12', lwm2mVersion: '1.2' });
    await c.client.register();
  });
  after(async () => {
    await c.close();
    await s.close();
  });

  test('is spoken to in LwM2M CBOR, announced by the device (LwM2M-TS-Core 1.2 §7.4.6)', async () => {
    assert.ok(canEncode(ContentFormat.LWM2M_CBOR));
    const reg = (await s.server.getRegistration('v12'))!;
    assert.ok(reg.supportedContentFormats.includes(ContentFormat.LWM2M_CBOR));
    assert.equal(s.server.deviceContext(reg).format, ContentFormat.LWM2M_CBOR);
    assert.equal(s.server.deviceContext(reg).compositeFormat, ContentFormat.LWM2M_CBOR);
    const r = await s.server.read('v12', { path: '/3/0' });
    assert.equal(r.code, Code.Content);
    assert.equal(single((r.content as Lwm2mObjectInstance).resources.get(2)), 'SN-1');
    const w = await s.server.write('v12', {
      path: '/3/0/14',
      mode: 'replace',
      content: singleResource(14, Value.string('+05:30')),
    });
    assert.equal(w.code, Code.Changed);
    const rc = await s.server.readComposite('v12', { paths: ['/3/0/14', '/3303/0/5700'] });
    assert.equal(single(rc.content.get('/3/0/14')), '+05:30');
  });

  test('takes edge on a boolean resource: only the rising edge notifies (LwM2M-TS-Core 1.2 §5.1.2)', async () => {
    const wa = await s.server.writeAttributes('v12', {
      path: '/9/0/12',
      attributes: { edge: 1, con: 1 },
    });
    assert.equal(wa.code, Code.Changed);
    await s.server.write('v12', {
      path: '/9/0/2',
      mode: 'replace',
      content: singleResource(2, Value.opaque(Buffer.from('p'))),
    });
    await s.server.execute('v12', { path: '/9/0/4' });
    const o = await s.server.observe('v12', { path: '/9/0/12' });
    assert.equal(single(o.content), false);
    const sentBefore = c.endpoint.stats.notificationsOut;
    const acksBefore = s.endpoint.stats.messagesOut;
    const n = nextEvent<NotificationEvent>(s.server, 'notification');
    assert.equal((await s.server.execute('v12', { path: '/9/0/10' })).code, Code.Changed);
    assert.equal(single((await n).content), true);
    assert.equal(c.endpoint.stats.notificationsOut, sentBefore + 1);
    // con=1: the notification was confirmable, and the server acknowledged it (RFC 7641 §4.5).
    assert.ok(s.endpoint.stats.messagesOut >= acksBefore + 2);
    assert.equal((await s.server.execute('v12', { path: '/9/0/11' })).code, Code.Changed);
    assert.equal(
      c.endpoint.stats.notificationsOut,
      sentBefore + 1,
      'the falling edge is not reported',
    );
  });

  test('refuses edge on a resource that is not boolean (LwM2M-TS-Core 1.2 §5.1.2)', async () => {
    await assert.rejects(
      s.server.writeAttributes('v12', { path: '/3303/0/5700', attributes: { edge: 1 } }),
      (e: unknown) => e instanceof Lwm2mError && e.code === 'LWM2M_ERR_INVALID_REQUEST',
    );
    const peer = (await s.server.getRegistration('v12'))!.peer;
    const r = await s.endpoint.request(peer, {
      code: Code.Put,
      path: '/3303/0/5700',
      query: ['edge=1'],
    });
    assert.equal(r.code, Code.BadRequest);
    const ok = await s.server.writeAttributes('v12', {
      path: '/3303/0',
      attributes: { hqmax: 10 },
    });
    assert.equal(ok.code, Code.Changed);
  });
});
