/**
 * Observations kept in the registration store across a restart of the server, and removed with
 * their end: deterministic time (a ManualClock), devices as CoAP endpoints on an in-memory
 * network that accept Observe themselves (RFC 7641 as server), so that the test sees whether
 * the server acknowledged a CON notification or rejected it with RST.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Code } from '../../../src/coap/code.js';
import { CoapEndpoint } from '../../../src/coap/endpoint.js';
import type { ServerObservation } from '../../../src/coap/observe-server.js';
import { udpPeer } from '../../../src/coap/udp-transport.js';
import { ContentFormat } from '../../../src/lwm2m/codec/content-format.js';
import type { Lwm2mSingleResource } from '../../../src/lwm2m/node/lwm2m-node.js';
import {
  Lwm2mServer,
  MemoryRegistrationStore,
  type NotificationEvent,
  type RegistrationStore,
} from '../../../src/lwm2m/server/index.js';
import { ManualClock } from '../../../src/util/clock.js';
import { MemoryNetwork, nextEvent, settle } from './helpers.js';

const SERVER = { address: '10.0.0.1', port: 5683 };

function startServer(network: MemoryNetwork, clock: ManualClock, store: RegistrationStore) {
  const endpoint = new CoapEndpoint(network.transport(SERVER.address, SERVER.port), { clock });
  const server = new Lwm2mServer({ endpoint, clock, store });
  return {
    server,
    stop: async () => {
      await server.close();
      await endpoint.close();
    },
  };
}

/** A device whose resources answer Observe with a text value; it notifies on demand. */
function device(network: MemoryNetwork, clock: ManualClock, address: string) {
  const observers = new Map<string, ServerObservation>();
  const endpoint: CoapEndpoint = new CoapEndpoint(network.transport(address, 5683), {
    clock,
    handler: (request, peer) => {
      const path = request.path.join('/');
      if (request.method !== Code.Get || !['3303/0/5700', '3303/0/5701'].includes(path)) {
        return { code: Code.NotFound };
      }
      if (request.observe === 0) observers.set(path, endpoint.acceptObserve(request, peer));
      else if (request.observe === 1) observers.delete(path);
      return { code: Code.Content, contentFormat: ContentFormat.TEXT, payload: '20.5' };
    },
  });
  const to = udpPeer(SERVER.address, SERVER.port);
  return {
    endpoint,
    observers,
    register: async (ep: string) => {
      const r = await endpoint.request(to, {
        code: Code.Post,
        path: 'rd',
        query: [`ep=${ep}`, 'lt=600', 'lwm2m=1.1'],
        contentFormat: ContentFormat.LINK,
        payload: '</3303/0>',
      });
      return r.locationPath.join('/');
    },
    deregister: (location: string) => endpoint.request(to, { code: Code.Delete, path: location }),
    /** A confirmable notification: acknowledged by a server that knows the token, else RST. */
    notify: (path: string, value: string) =>
      observers
        .get(path)!
        .notify(
          { code: Code.Content, contentFormat: ContentFormat.TEXT, payload: value },
          { confirmable: true },
        ),
  };
}

const readingOf = (event: NotificationEvent) => (event.content as Lwm2mSingleResource).value.value;

test('a restarted server resumes the kept observations: the next notification is emitted, not answered RST (RFC 7641 §3.6)', async () => {
  const clock = new ManualClock();
  const network = new MemoryNetwork();
  const store = new MemoryRegistrationStore();
  const first = startServer(network, clock, store);
  const dev = device(network, clock, '10.0.0.2');
  await dev.register('thermo');
  const observed = await first.server.observe('thermo', {
    path: '/3303/0/5700',
    format: ContentFormat.TEXT,
  });
  const observation = observed.observation!;
  assert.ok(observation, 'the device accepted the observation');
  assert.deepEqual(
    (await store.observations()).map((o) => [o.id, o.token, o.paths, o.format, o.createdAt]),
    [[observation.id, observation.id, ['/3303/0/5700'], ContentFormat.TEXT, clock.now()]],
    'kept when the device accepted it (RFC 7641 §3.1)',
  );
  const before = nextEvent<NotificationEvent>(first.server, 'notification');
  dev.notify('3303/0/5700', '21');
  assert.equal(readingOf(await before), 21);
  await first.stop();
  assert.equal((await store.observations()).length, 1, 'a stop keeps the observation');

  const second = startServer(network, clock, store);
  assert.deepEqual(
    (await second.server.restore()).map((r) => r.endpoint),
    ['thermo'],
  );
  assert.deepEqual(second.server.observations(), [observation]);
  // RFC 7641 §3.4: the new server has no sequence number to compare with; the first
  // notification it sees is taken, and so is the next one.
  for (const value of ['22', '23']) {
    const after = nextEvent<NotificationEvent>(second.server, 'notification');
    dev.notify('3303/0/5700', value);
    const event = await after;
    assert.equal(readingOf(event), Number(value));
    assert.deepEqual(event.observation, observation);
  }
  await settle();
  assert.equal(
    dev.observers.get('3303/0/5700')!.active,
    true,
    'the CON notifications were acknowledged, not rejected with RST (RFC 7641 §3.6)',
  );

  // Cancel Observation after the restart still reaches the device with the kept token.
  const cancelled = await second.server.cancelObservation(observation, { active: true });
  assert.equal(cancelled?.code, Code.Content);
  assert.equal(dev.observers.has('3303/0/5700'), false, 'the device got GET with Observe=1');
  assert.deepEqual(await store.observations(), []);
  await second.stop();
  await dev.endpoint.close();
});

test('Cancel Observation, De-register and a new Register remove the kept observations (LwM2M-TS-Core 1.2 §6.3.4, §6.3)', async () => {
  const clock = new ManualClock();
  const network = new MemoryNetwork();
  const store = new MemoryRegistrationStore();
  const { server, stop } = startServer(network, clock, store);
  const dev = device(network, clock, '10.0.0.2');
  const kept = async () => (await store.observations()).map((o) => o.paths[0]).sort();
  const observeBoth = async () => {
    for (const path of ['/3303/0/5700', '/3303/0/5701']) {
      await server.observe('thermo', { path, format: ContentFormat.TEXT });
    }
  };

  let location = await dev.register('thermo');
  await observeBoth();
  assert.deepEqual(await kept(), ['/3303/0/5700', '/3303/0/5701']);
  // Passive cancel (RFC 7641 §3.6): forgotten here and in the store.
  const [one] = server.observations().filter((o) => o.paths[0] === '/3303/0/5700');
  await server.cancelObservation(one!);
  assert.deepEqual(await kept(), ['/3303/0/5701']);
  // LwM2M-TS-Core 1.2 §6.3: De-register ends the registration's observations.
  await dev.deregister(location);
  assert.deepEqual(await kept(), []);

  location = await dev.register('thermo');
  await observeBoth();
  // LwM2M-TS-Core 1.2 §6.3: a new Register of the endpoint ends the old one's observations.
  await dev.register('thermo');
  assert.deepEqual(await kept(), []);
  assert.deepEqual(server.observations(), []);

  // An error notification ends the observation (RFC 7641 §3.2), and its record.
  await observeBoth();
  const ended = nextEvent<NotificationEvent>(server, 'notification');
  dev.observers.get('3303/0/5701')!.notify({ code: Code.NotFound }, { confirmable: true });
  assert.equal((await ended).code, Code.NotFound);
  assert.deepEqual(await kept(), ['/3303/0/5700']);
  await stop();
  await dev.endpoint.close();
});

test('a kept observation whose registration expired while the server was down is not resumed (LwM2M-TS-Core 1.2 §6.3)', async () => {
  const clock = new ManualClock();
  const network = new MemoryNetwork();
  const store = new MemoryRegistrationStore();
  const first = startServer(network, clock, store);
  const dev = device(network, clock, '10.0.0.2');
  await dev.register('thermo');
  await first.server.observe('thermo', { path: '/3303/0/5700', format: ContentFormat.TEXT });
  await first.stop();
  clock.advance(601_000);
  const second = startServer(network, clock, store);
  assert.deepEqual(await second.server.restore(), []);
  assert.deepEqual(second.server.observations(), []);
  assert.deepEqual(await store.observations(), []);
  await second.stop();
  await dev.endpoint.close();
});
