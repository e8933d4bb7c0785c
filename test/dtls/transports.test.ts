import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DtlsClientTransport } from '../../src/dtls/client-transport.js';
import { DtlsServerTransport } from '../../src/dtls/server-transport.js';
import type { DatagramPeer } from '../../src/transport/datagram.js';

const keys = new Map([
  ['dev1', Buffer.alloc(16, 1)],
  ['dev2', Buffer.alloc(16, 2)],
  ['dev3', Buffer.alloc(16, 3)],
]);

describe('DTLS datagram transports over node:dgram', () => {
  it('serves many peers, each keyed by its session and named by its PSK identity (RFC 6347 §4.2)', async () => {
    const server = await DtlsServerTransport.bind({
      host: '127.0.0.1',
      port: 0,
      pskStore: (id) => keys.get(id),
    });
    assert.equal(server.scheme, 'coaps');
    const seen = new Map<string, DatagramPeer>();
    server.onReceive((data, peer) => {
      seen.set(peer.key, peer);
      server.send(
        peer,
        Buffer.from(`${peer.identity?.kind === 'psk' ? peer.identity.identity : '?'}:${data}`),
      );
    });
    const port = server.address()!.port;
    const clients = [...keys].map(
      ([identity, key]) =>
        new DtlsClientTransport({ host: '127.0.0.1', port, psk: { identity, key } }),
    );
    try {
      const answers = await Promise.all(
        clients.map(
          (c, i) =>
            new Promise<string>((resolve) => {
              c.onReceive((data, peer) => {
                assert.equal(peer.identity?.kind, 'psk');
                resolve(data.toString());
              });
              // Sent before the handshake: queued until it completes.
              c.send(c.peer, Buffer.from(`hello ${i}`));
            }),
        ),
      );
      assert.deepEqual(answers, ['dev1:hello 0', 'dev2:hello 1', 'dev3:hello 2']);
      assert.equal(seen.size, 3);
      for (const peer of seen.values()) assert.match(peer.key, /^dtls:/);
      assert.equal(server.stats.handshakesCompleted, 3);
      assert.equal(server.server.sessions, 3);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await server.close();
    }
  });

  it('closes with close_notify and the server forgets the session (RFC 5246 §7.2.1)', async () => {
    const server = await DtlsServerTransport.bind({
      host: '127.0.0.1',
      port: 0,
      pskStore: (id) => keys.get(id),
    });
    const client = new DtlsClientTransport({
      host: '127.0.0.1',
      port: server.address()!.port,
      psk: { identity: 'dev1', key: keys.get('dev1')! },
    });
    try {
      await client.connect();
      assert.equal(server.server.sessions, 1);
      const closed = new Promise<void>((resolve) => {
        const poll = () => (server.server.sessions === 0 ? resolve() : setImmediate(poll));
        poll();
      });
      await client.close();
      await closed;
      assert.equal(server.stats.sessionsClosed, 1);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it('rejects connect() with the alert the server sent (RFC 4279 §2)', async () => {
    const server = await DtlsServerTransport.bind({
      host: '127.0.0.1',
      port: 0,
      pskStore: (id) => keys.get(id),
    });
    const client = new DtlsClientTransport({
      host: '127.0.0.1',
      port: server.address()!.port,
      psk: { identity: 'nobody', key: Buffer.alloc(16) },
    });
    try {
      await assert.rejects(client.connect(), { code: 'DTLS_ERR_UNKNOWN_PSK_IDENTITY' });
    } finally {
      await client.close();
      await server.close();
    }
  });
});
