/**
 * The client's notification attributes (LwM2M-TS-Core 1.1 §5.1.2): pmin, pmax, gt, lt, st,
 * with the client on a manual clock and the server on UDP. A notification leaves the client
 * synchronously, so its endpoint's counter says at once whether one was sent.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { Code } from '../../../src/coap/code.js';
import type {
  SensorInstance,
  SensorObject,
  ServerObject,
} from '../../../src/lwm2m/client/index.js';
import type { Lwm2mSingleResource } from '../../../src/lwm2m/node/lwm2m-node.js';
import { Value } from '../../../src/lwm2m/node/lwm2m-value.js';
import type { NotificationEvent } from '../../../src/lwm2m/server/index.js';
import { ManualClock } from '../../../src/util/clock.js';
import { nextEvent, startClient, startServer } from '../server/helpers.js';

describe('observation attributes on the client (LwM2M-TS-Core 1.1 §5.1.2)', () => {
  let s: Awaited<ReturnType<typeof startServer>>;
  let c: Awaited<ReturnType<typeof startClient>>;
  let clock: ManualClock;
  let sensor: SensorInstance;
  const sent = () => c.endpoint.stats.notificationsOut;

  beforeEach(async () => {
    clock = new ManualClock();
    s = await startServer();
    c = await startClient(s.port, { name: 'attr', lwm2mVersion: '1.1', clock, autoUpdate: false });
    await c.client.register();
    sensor = (c.client.objects.get(3303) as SensorObject).sensor(0);
  });
  afterEach(async () => {
    await c.close();
    await s.close();
  });

  async function observeTemperature() {
    const o = await s.server.observe('attr', { path: '/3303/0/5700' });
    assert.equal(o.code, Code.Content);
    return o;
  }

  test('notifies at pmax without any change (LwM2M-TS-Core 1.1 §5.1.2 pmax)', async () => {
    await s.server.writeAttributes('attr', { path: '/3303/0/5700', attributes: { pmax: 10 } });
    await observeTemperature();
    clock.advance(9_999);
    assert.equal(sent(), 0);
    const n = nextEvent<NotificationEvent>(s.server, 'notification');
    clock.advance(1);
    assert.equal(sent(), 1);
    assert.equal(((await n).content as Lwm2mSingleResource).value.value, 20);
    clock.advance(10_000);
    assert.equal(sent(), 2);
  });

  test('holds a change back until pmin has passed (LwM2M-TS-Core 1.1 §5.1.2 pmin)', async () => {
    await s.server.writeAttributes('attr', { path: '/3303/0/5700', attributes: { pmin: 5 } });
    await observeTemperature();
    clock.advance(1_000);
    sensor.measure(21);
    sensor.measure(22);
    assert.equal(sent(), 0);
    const n = nextEvent<NotificationEvent>(s.server, 'notification');
    clock.advance(4_000);
    assert.equal(sent(), 1, 'the changes within pmin make one notification');
    assert.equal(((await n).content as Lwm2mSingleResource).value.value, 22);
    clock.advance(10_000);
    sensor.measure(23);
    assert.equal(sent(), 2, 'after pmin a change goes out at once');
  });

  test('notifies when the value crosses gt or lt, either way (LwM2M-TS-Core 1.1 §5.1.2 gt, lt)', async () => {
    await s.server.writeAttributes('attr', {
      path: '/3303/0/5700',
      attributes: { gt: 30, lt: 10 },
    });
    await observeTemperature();
    sensor.measure(25);
    assert.equal(sent(), 0);
    sensor.measure(31);
    assert.equal(sent(), 1);
    sensor.measure(35);
    assert.equal(sent(), 1);
    sensor.measure(29);
    assert.equal(sent(), 2);
    sensor.measure(9);
    assert.equal(sent(), 3);
    sensor.measure(5);
    assert.equal(sent(), 3);
  });

  test('notifies when the value moves by st since the last notification (LwM2M-TS-Core 1.1 §5.1.2 st)', async () => {
    await s.server.writeAttributes('attr', { path: '/3303/0/5700', attributes: { st: 2 } });
    await observeTemperature();
    sensor.measure(21);
    sensor.measure(21.9);
    assert.equal(sent(), 0);
    sensor.measure(22);
    assert.equal(sent(), 1);
    sensor.measure(20.5);
    assert.equal(sent(), 1);
    sensor.measure(19.9);
    assert.equal(sent(), 2);
  });

  test('takes pmin from the object instance when the resource has none (LwM2M-TS-Core 1.1 §5.1.1)', async () => {
    await s.server.writeAttributes('attr', { path: '/3303/0', attributes: { pmin: 3 } });
    await observeTemperature();
    sensor.measure(24);
    assert.equal(sent(), 0);
    clock.advance(3_000);
    assert.equal(sent(), 1);
  });

  test("falls back to the Server object's default pmin and pmax (LwM2M-TS-Core 1.1 Appendix E.2)", async () => {
    const server = c.client.objects.get(1) as ServerObject;
    const instance = server.instances.get(0)!;
    instance.set(2, Value.integer(2));
    instance.set(3, Value.integer(20));
    await observeTemperature();
    sensor.measure(24);
    assert.equal(sent(), 0);
    clock.advance(2_000);
    assert.equal(sent(), 1);
    clock.advance(19_999);
    assert.equal(sent(), 1);
    clock.advance(1);
    assert.equal(sent(), 2);
  });

  test('evaluates changes no sooner than epmin apart (LwM2M-TS-Core 1.1 §5.1.2 epmin)', async () => {
    await s.server.writeAttributes('attr', {
      path: '/3303/0/5700',
      attributes: { epmin: 10, st: 1 },
    });
    await observeTemperature();
    clock.advance(1_000);
    sensor.measure(30);
    assert.equal(sent(), 0, 'a change within epmin waits for the next evaluation');
    clock.advance(9_000);
    assert.equal(sent(), 1);
    sensor.measure(35);
    assert.equal(sent(), 1);
    sensor.measure(30.5);
    clock.advance(10_000);
    assert.equal(sent(), 1, 'at the next evaluation the value is within st of the last one');
  });

  test('evaluates the conditions again every epmax (LwM2M-TS-Core 1.1 §5.1.2 epmax)', async () => {
    await s.server.writeAttributes('attr', {
      path: '/3303/0/5700',
      attributes: { epmin: 30, epmax: 60, gt: 25 },
    });
    await observeTemperature();
    clock.advance(1_000);
    // The device's value moves without telling (no set): only an evaluation sees it.
    (sensor as unknown as { values: Map<number, unknown> }).values.set(5700, Value.float(26));
    assert.equal(sent(), 0);
    clock.advance(59_000);
    assert.equal(sent(), 1);
    clock.advance(60_000);
    assert.equal(sent(), 1, 'no new crossing, no notification');
  });

  test('ignores a pmax below pmin (LwM2M-TS-Core 1.1 §5.1.2)', async () => {
    await s.server.writeAttributes('attr', { path: '/3303/0', attributes: { pmin: 10 } });
    await s.server.writeAttributes('attr', { path: '/3303/0/5700', attributes: { pmax: 5 } });
    await observeTemperature();
    clock.advance(60_000);
    assert.equal(sent(), 0);
  });

  test('refuses lt not below gt, and lt + 2*st not below gt, with 4.00 (LwM2M-TS-Core 1.1 §5.1.2)', async () => {
    const peer = (await s.server.getRegistration('attr'))!.peer;
    const put = (query: string[]) =>
      s.endpoint.request(peer, { code: Code.Put, path: '/3303/0/5700', query });
    assert.equal((await put(['gt=10', 'lt=20'])).code, Code.BadRequest);
    assert.equal((await put(['gt=20', 'lt=10', 'st=5'])).code, Code.BadRequest);
    assert.equal((await put(['gt=20', 'lt=10', 'st=4'])).code, Code.Changed);
    assert.equal((await put(['pmin=abc'])).code, Code.BadRequest);
    assert.equal((await put(['speed=1'])).code, Code.BadRequest);
    // LwM2M-TS-Core 1.2 §5.1.2: edge is a 1.2 attribute; this client speaks 1.1.
    assert.equal((await put(['edge=1'])).code, Code.BadRequest);
    assert.equal((await put(['epmin=1'])).code, Code.Changed);
    // gt, lt and st attach to resources only.
    const onInstance = await s.endpoint.request(peer, {
      code: Code.Put,
      path: '/3303/0',
      query: ['st=1'],
    });
    assert.equal(onInstance.code, Code.BadRequest);
    const unknown = await s.endpoint.request(peer, {
      code: Code.Put,
      path: '/3303/9',
      query: ['pmin=1'],
    });
    assert.equal(unknown.code, Code.NotFound);
  });
});
