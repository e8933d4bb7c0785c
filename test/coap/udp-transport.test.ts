import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Code } from '../../src/coap/code.js';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { UdpTransport } from '../../src/coap/udp-transport.js';

async function pair(address: string) {
  const server = new CoapEndpoint(await UdpTransport.bind({ address, port: 0 }), {
    handler: (req, peer) => ({
      code: Code.Content,
      payload: `${req.path.join('/')} from ${peer.address}`,
    }),
  });
  const clientTransport = await UdpTransport.bind({ address, port: 0 });
  const client = new CoapEndpoint(clientTransport);
  return { server, client, clientTransport };
}

describe('UDP transport (node:dgram)', () => {
  for (const address of ['127.0.0.1', '::1']) {
    test(`carries a CoAP exchange between two endpoints over ${address} (RFC 7252 §2.1)`, async () => {
      const { server, client, clientTransport } = await pair(address);
      try {
        const bound = server.transport.address();
        assert.ok(bound);
        assert.equal(bound.address, address);
        assert.ok(bound.port > 0);
        const res = await client.request(clientTransport.peer(address, bound.port), {
          code: Code.Get,
          path: '/hello/world',
        });
        assert.equal(res.code, Code.Content);
        assert.equal(res.payload.toString(), `hello/world from ${address}`);
        assert.equal(server.stats.requestsIn, 1);
      } finally {
        await client.close();
        await server.close();
      }
    });
  }

  test('serves IPv4 clients on a dual-stack IPv6 socket, keyed by their IPv4 address', async () => {
    const server = new CoapEndpoint(
      await UdpTransport.bind({
        address: '::',
        port: 0,
        recvBufferSize: 1 << 18,
        sendBufferSize: 1 << 18,
      }),
      {
        handler: (_req, peer) => ({ code: Code.Content, payload: peer.key }),
      },
    );
    const clientTransport = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
    const client = new CoapEndpoint(clientTransport);
    try {
      const res = await client.request(
        clientTransport.peer('127.0.0.1', server.transport.address()!.port),
        {
          code: Code.Get,
          path: '/who',
        },
      );
      assert.equal(res.payload.toString(), `udp:127.0.0.1:${clientTransport.address()!.port}`);
    } finally {
      await client.close();
      await server.close();
    }
  });

  test('rejects binding a port already in use', async () => {
    const a = await UdpTransport.bind({ address: '127.0.0.1' });
    try {
      await assert.rejects(UdpTransport.bind({ address: '127.0.0.1', port: a.address()!.port }));
    } finally {
      await a.close();
    }
  });
});
