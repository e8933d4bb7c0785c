/** The client's registration lifecycle against our server over UDP (LwM2M-TS-Core 1.1 §6.2). */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { Code } from '../../../src/coap/code.js';
import {
  DeviceObject,
  Lwm2mClientError,
  SecurityObject,
  SensorInstance,
  ServerObject,
  TemperatureObject,
} from '../../../src/lwm2m/client/index.js';
import { singleResource } from '../../../src/lwm2m/node/lwm2m-node.js';
import { Value } from '../../../src/lwm2m/node/lwm2m-value.js';
import type { RegisteredEvent, UpdatedEvent } from '../../../src/lwm2m/server/index.js';
import { ManualClock } from '../../../src/util/clock.js';
import { nextEvent, startClient, startServer } from '../server/helpers.js';

describe('client registration (LwM2M-TS-Core 1.1 §6.2)', () => {
  let s: Awaited<ReturnType<typeof startServer>>;
  const clients: Awaited<ReturnType<typeof startClient>>[] = [];
  beforeEach(async () => {
    s = await startServer();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    await s.close();
  });
  const client = async (setup: Parameters<typeof startClient>[1]) => {
    const c = await startClient(s.port, setup);
    clients.push(c);
    return c;
  };
  const small = () => [
    new SecurityObject([{ serverUri: 'coap://127.0.0.1', shortServerId: 1 }]),
    new ServerObject([{ lifetime: 100 }]),
    new DeviceObject(),
    new TemperatureObject(),
  ];

  test('announces its objects with versions and formats, without the Security object (LwM2M-TS-Core 1.1 §6.2.1)', async () => {
    const c = await client({ name: 'links', objects: small() });
    assert.equal(
      c.client.objectLinks(),
      '</>;rt="oma.lwm2m";ct="11542 110 112",</1>;ver=1.2,</1/0>,</3>;ver=1.2,</3/0>,</3303>;ver=1.1,</3303/0>',
    );
    const registered = nextEvent<RegisteredEvent>(s.server, 'registered');
    const id = await c.client.register();
    const { registration } = await registered;
    assert.equal(registration.id, id);
    assert.deepEqual(c.client.location, ['rd', id]);
    assert.equal(registration.lifetime, 100);
    assert.deepEqual(registration.objectVersions, { 1: '1.2', 3: '1.2', 3303: '1.1' });
    assert.deepEqual(registration.supportedContentFormats, [11542, 110, 112]);
  });

  test('registers a 1.0 client in queue mode with b=UQ (LwM2M-TS-Core 1.0 §5.3.1.1)', async () => {
    const c = await client({
      name: 'old-q',
      objects: small(),
      lwm2mVersion: '1.0',
      queueMode: true,
    });
    assert.ok(!c.client.objectLinks().includes('</>'));
    await c.client.register();
    const reg = (await s.server.getRegistration('old-q'))!;
    assert.equal(reg.lwm2mVersion, '1.0');
    assert.equal(reg.queueMode, true);
    assert.equal(reg.binding, 'U');
  });

  test('sends an Update with the new lifetime when the server writes it (LwM2M-TS-Core 1.1 Appendix E.2)', async () => {
    const c = await client({ name: 'lt', objects: small() });
    await c.client.register();
    const updated = nextEvent<UpdatedEvent>(s.server, 'updated');
    const w = await s.server.write('lt', {
      path: '/1/0/1',
      mode: 'replace',
      content: singleResource(1, Value.integer(120)),
    });
    assert.equal(w.code, Code.Changed);
    const event = await updated;
    assert.equal(event.current.lifetime, 120);
    assert.equal(c.client.lifetime, 120);
  });

  test('sends an Update on Registration Update Trigger (LwM2M-TS-Core 1.1 Appendix E.2 resource 8)', async () => {
    const c = await client({ name: 'trigger', objects: small() });
    await c.client.register();
    const updated = nextEvent<UpdatedEvent>(s.server, 'updated');
    assert.equal((await s.server.execute('trigger', { path: '/1/0/8' })).code, Code.Changed);
    assert.equal((await updated).current.endpoint, 'trigger');
  });

  test('updates by itself before its lifetime runs out (LwM2M-TS-Core 1.1 §6.2.2)', async () => {
    const clock = new ManualClock();
    const c = await client({ name: 'auto', objects: small(), clock, lifetime: 100 });
    await c.client.register();
    const updated = nextEvent<UpdatedEvent>(s.server, 'updated');
    clock.advance(89_999);
    assert.equal(c.endpoint.stats.requestsOut, 1);
    clock.advance(1);
    assert.equal(c.endpoint.stats.requestsOut, 2);
    await updated;
  });

  test('registers again when the server answers an Update with 4.04 (LwM2M-TS-Core 1.1 §6.2.2)', async () => {
    const c = await client({ name: 'lost', objects: small() });
    const first = await c.client.register();
    assert.equal(await s.server.removeRegistration('lost'), true);
    const registered = nextEvent<RegisteredEvent>(s.server, 'registered');
    await c.client.update();
    const { registration } = await registered;
    assert.notEqual(registration.id, first);
    assert.equal(c.client.registrationId, registration.id);
  });

  test('de-registers (LwM2M-TS-Core 1.1 §6.2.3)', async () => {
    const c = await client({ name: 'leave', objects: small() });
    await c.client.register();
    const gone = nextEvent(s.server, 'deregistered');
    await c.client.deregister();
    await gone;
    assert.equal(c.client.registered, false);
    assert.equal(await s.server.getRegistration('leave'), undefined);
  });

  test('reports a refused Register with its code (LwM2M-TS-Core 1.1 §6.2.1)', async () => {
    const c = await client({ name: '', objects: small() });
    await assert.rejects(
      c.client.register(),
      (e: unknown) => e instanceof Lwm2mClientError && e.coapCode === Code.BadRequest,
    );
  });

  test('refuses Send on LwM2M 1.0 (LwM2M-TS-Core 1.1 §6.4.4)', async () => {
    const c = await client({ name: 'old-send', objects: small(), lwm2mVersion: '1.0' });
    await c.client.register();
    await assert.rejects(c.client.send(['/3303/0/5700']), Lwm2mClientError);
  });

  test('sends an Update with its object links when it adds an instance itself (LwM2M-TS-Core 1.1 §6.2.2)', async () => {
    const temperature = new TemperatureObject();
    const c = await client({
      name: 'grows',
      objects: [new ServerObject([{ lifetime: 100 }]), temperature],
    });
    await c.client.start();
    const updated = nextEvent<UpdatedEvent>(s.server, 'updated');
    temperature.add(new SensorInstance(4, temperature.model, { value: 1 }));
    const event = await updated;
    assert.deepEqual(
      event.current.objectLinks.map((l) => l.path),
      ['/1', '/1/0', '/3303', '/3303/0', '/3303/4'],
    );
    // A Create by the server needs no Update: the server made the change.
    const requests = c.endpoint.stats.requestsOut;
    const created = await s.server.create('grows', {
      objectId: 3303,
      instanceId: 7,
      resources: [singleResource(5700, Value.float(2))],
    });
    assert.equal(created.code, Code.Created);
    assert.equal(c.endpoint.stats.requestsOut, requests);
    const gone = nextEvent(s.server, 'deregistered');
    await c.client.stop();
    await gone;
  });
});
