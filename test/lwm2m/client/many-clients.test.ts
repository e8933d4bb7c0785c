/**
 * Thousands of clients in one process (the simulator's use): 1,000 clients with every object
 * on an in-memory network register with one server, answer a Read each, and de-register.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Code } from '../../../src/coap/code.js';
import { CoapEndpoint } from '../../../src/coap/endpoint.js';
import { Lwm2mClient } from '../../../src/lwm2m/client/index.js';
import type { Lwm2mSingleResource } from '../../../src/lwm2m/node/lwm2m-node.js';
import { Lwm2mServer } from '../../../src/lwm2m/server/index.js';
import { allObjects, MemoryNetwork } from '../server/helpers.js';

describe('many clients in one process', () => {
  test('1,000 clients register, answer a Read and de-register (LwM2M-TS-Core 1.1 §6.2, §6.3.1)', async () => {
    const network = new MemoryNetwork();
    const serverTransport = network.transport('10.0.0.1', 5683);
    const serverEndpoint = new CoapEndpoint(serverTransport);
    const server = new Lwm2mServer({ endpoint: serverEndpoint });
    const clients: { client: Lwm2mClient; endpoint: CoapEndpoint }[] = [];
    for (let i = 0; i < 1000; i++) {
      const endpoint = new CoapEndpoint(network.transport(`10.9.${i >> 8}.${i & 255}`, 5683));
      const client = new Lwm2mClient({
        endpoint,
        server: serverTransport.self,
        name: `sim-${i}`,
        objects: allObjects(5683),
        autoUpdate: false,
      });
      clients.push({ client, endpoint });
    }
    // Registration in batches, as a simulator ramps up.
    for (let i = 0; i < clients.length; i += 100) {
      await Promise.all(clients.slice(i, i + 100).map((c) => c.client.register()));
    }
    assert.equal(await server.store.size(), 1000);
    const reads = await Promise.all(
      clients.map((_, i) => server.read(`sim-${i}`, { path: '/3/0/2' })),
    );
    assert.ok(reads.every((r) => r.code === Code.Content));
    assert.equal((reads[0]!.content as Lwm2mSingleResource).value.value, 'SN-1');
    // The object definitions are shared: every client's Device object is the registry's one.
    assert.equal(
      clients[0]!.client.objects.get(3)!.model,
      clients[999]!.client.objects.get(3)!.model,
    );
    for (let i = 0; i < clients.length; i += 100) {
      await Promise.all(clients.slice(i, i + 100).map((c) => c.client.deregister()));
    }
    assert.equal(await server.store.size(), 0);
    for (const c of clients) {
      c.client.close();
      await c.endpoint.close();
    }
    await server.close();
    await serverEndpoint.close();
  });
});
