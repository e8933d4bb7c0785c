/**
 * A server that takes over the registrations of a durable store after a restart, with
 * deterministic time: a ManualClock drives both servers, devices are CoAP endpoints on an
 * in-memory network. (The SQLite store's own durability is tested in test/store.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Code } from '../../../src/coap/code.js';
import { CoapEndpoint } from '../../../src/coap/endpoint.js';
import { udpPeer } from '../../../src/coap/udp-transport.js';
import { ContentFormat } from '../../../src/lwm2m/codec/content-format.js';
import type { Lwm2mSingleResource } from '../../../src/lwm2m/node/lwm2m-node.js';
import {
  Lwm2mServer,
  MemoryRegistrationStore,
  type Registration,
  type RegistrationStore,
} from '../../../src/lwm2m/server/index.js';
import { ManualClock } from '../../../src/util/clock.js';
import { MemoryNetwork, settle } from './helpers.js';

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

function device(network: MemoryNetwork, clock: ManualClock, address: string) {
  const transport = network.transport(address, 5683);
  const endpoint = new CoapEndpoint(transport, {
    clock,
    handler: (request) =>
      request.method === Code.Get && request.path.join('/') === '3/0/0'
        ? { code: Code.Content, contentFormat: ContentFormat.TEXT, payload: 'Tandem' }
        : { code: Code.NotFound },
  });
  const to = udpPeer(SERVER.address, SERVER.port);
  return {
    endpoint,
    register: (ep: string, lifetime: number) =>
      endpoint.request(to, {
        code: Code.Post,
        path: 'rd',
        query: [`ep=${ep}`, `lt=${lifetime}`, 'lwm2m=1.1'],
        contentFormat: ContentFormat.LINK,
        payload: '</3/0>',
      }),
    update: (id: string) => endpoint.request(to, { code: Code.Post, path: `rd/${id}` }),
  };
}

test('after a restart, lifetimes go on from the stored times and devices are reached at their stored address (LwM2M-TS-Core 1.1 §6.2.1)', async () => {
  const clock = new ManualClock();
  const network = new MemoryNetwork();
  const store = new MemoryRegistrationStore();
  const first = startServer(network, clock, store);
  const shortLived = device(network, clock, '10.0.0.2');
  const longLived = device(network, clock, '10.0.0.3');
  const short = await shortLived.register('short', 60);
  const long = await longLived.register('long', 600);
  assert.equal(short.code, Code.Created);
  assert.equal(long.code, Code.Created);
  await first.stop();

  // Down for 100 s: `short` (lifetime 60 s) ran out meanwhile, `long` has 500 s left.
  clock.advance(100_000);
  const second = startServer(network, clock, store);
  const expired: Registration[] = [];
  second.server.on('expired', (r) => expired.push(r));
  const alive = await second.server.restore();
  assert.deepEqual(
    alive.map((r) => r.endpoint),
    ['long'],
  );
  assert.deepEqual(
    expired.map((r) => r.endpoint),
    ['short'],
    'a registration whose lifetime ran out while the server was down expires at start',
  );

  // The server reaches the device at the address it registered from, before it speaks again.
  const read = await second.server.read('long', { path: '/3/0/0' });
  assert.equal(read.code, Code.Content);
  assert.equal((read.content as Lwm2mSingleResource).value.value, 'Tandem');

  const id = long.locationPath.at(-1)!;
  const updated = await longLived.update(id);
  assert.equal(updated.code, Code.Changed, 'the registration ID of before the restart is known');
  assert.equal((await shortLived.update(short.locationPath.at(-1)!)).code, Code.NotFound);

  // The Update restarted the lifetime: 600 s from now, not from the stored registration time.
  clock.advance(599_000);
  await settle();
  assert.deepEqual(
    expired.map((r) => r.endpoint),
    ['short'],
  );
  clock.advance(1_000);
  await settle();
  assert.deepEqual(
    expired.map((r) => r.endpoint),
    ['short', 'long'],
  );
  await second.stop();
  await shortLived.endpoint.close();
  await longLived.endpoint.close();
});
