import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DtlsClientTransport } from '../../src/dtls/client-transport.js';
import {
  DtlsServerTransport,
  type DtlsServerTransportOptions,
} from '../../src/dtls/server-transport.js';
import type { DatagramPeer } from '../../src/transport/datagram.js';
import { PSK, pskStore } from './helpers.js';
import { Peer } from './peers.js';
import { makePki, type TestPki } from './pki.js';

const PSK_HEX = PSK.toString('hex');

/** Our server transport answering every datagram with `echo:` + the datagram. */
async function echoServer(options: Partial<DtlsServerTransportOptions> = {}) {
  const server = new DtlsServerTransport({ host: '127.0.0.1', port: 0, pskStore, ...options });
  const peers: DatagramPeer[] = [];
  server.onReceive((data, peer) => {
    peers.push(peer);
    server.send(peer, Buffer.concat([Buffer.from('echo:'), data]));
  });
  const { port } = await server.listen();
  return { server, port, peers };
}

/**
 * `openssl s_client` with a PSK against our server on `port`: DTLS 1.2, identity dev1, the test
 * key and PSK-AES128-CCM8 unless told otherwise; `extra` goes after `-connect`.
 */
function pskClient(
  port: number,
  o: { version?: string; key?: string; identity?: string; cipher?: string; extra?: string[] } = {},
) {
  return new Peer('openssl', [
    's_client',
    o.version ?? '-dtls1_2',
    '-psk',
    o.key ?? PSK_HEX,
    '-psk_identity',
    o.identity ?? 'dev1',
    '-cipher',
    o.cipher ?? 'PSK-AES128-CCM8',
    '-connect',
    `127.0.0.1:${port}`,
    ...(o.extra ?? []),
  ]);
}

describe('interop with openssl s_client (our server)', () => {
  let pki: TestPki;
  before(() => {
    pki = makePki();
  });
  after(() => pki.remove());

  it('completes PSK-AES128-CCM8 and carries data both ways (RFC 6655, RFC 6347)', async () => {
    const { server, port, peers } = await echoServer();
    const client = pskClient(port);
    try {
      client.write('hello tandem\n');
      await client.waitFor(/echo:hello tandem/);
      assert.match(client.output, /Cipher is PSK-AES128-CCM8/);
      assert.match(client.output, /Extended master secret: yes/);
      assert.match(client.output, /Secure Renegotiation IS supported/);
      assert.deepEqual(peers[0]?.identity, { kind: 'psk', identity: 'dev1' });
    } finally {
      await client.stop();
      await server.close();
    }
    assert.equal(server.stats.handshakesCompleted, 1);
    assert.equal(server.stats.helloVerifyRequestsSent, 1);
  });

  it('refuses renegotiation with a no_renegotiation warning (RFC 5746 §4.4)', async () => {
    const { server, port } = await echoServer();
    const client = pskClient(port);
    try {
      client.write('first\n');
      await client.waitFor(/echo:first/);
      client.write('R\n'); // s_client: renegotiate
      await client.waitFor(/RENEGOTIATING/);
      // OpenSSL gives up on the connection when its renegotiation is refused.
      await client.waitFor(/no renegotiation/);
    } finally {
      await client.stop();
      await server.close();
    }
  });

  it('resumes an openssl session by session id (RFC 5246 §7.3)', async () => {
    const { server, port } = await echoServer();
    const sessionFile = pki.path('psk-session.pem');
    const first = pskClient(port, { extra: ['-sess_out', sessionFile] });
    try {
      first.write('first\n');
      await first.waitFor(/echo:first/);
    } finally {
      await first.stop();
    }
    const second = pskClient(port, { extra: ['-sess_in', sessionFile] });
    try {
      second.write('second\n');
      await second.waitFor(/echo:second/);
      assert.match(second.output, /Reused, TLSv1.2, Cipher is PSK-AES128-CCM8/);
    } finally {
      await second.stop();
      await server.close();
    }
    assert.equal(server.stats.sessionsResumed, 1);
    assert.equal(server.stats.handshakesCompleted, 1);
  });

  it('sends bad_record_mac to a client with the wrong PSK (RFC 5246 §7.2.2)', async () => {
    const { server, port } = await echoServer();
    const client = pskClient(port, { key: '00'.repeat(16) });
    try {
      await client.waitFor(/alert number 20\b/);
    } finally {
      await client.stop();
      await server.close();
    }
    assert.equal(server.stats.handshakesFailed, 1);
  });

  it('refuses a DTLS 1.0 client with protocol_version (RFC 5246 §7.4.1.3, DTLS 1.2 only)', async () => {
    const { server, port } = await echoServer();
    const client = pskClient(port, { version: '-dtls1', cipher: 'PSK-AES128-CBC-SHA@SECLEVEL=0' });
    try {
      await client.waitFor(/alert number 70\b/);
    } finally {
      await client.stop();
      await server.close();
    }
  });

  it('sends unknown_psk_identity to an unknown identity (RFC 4279 §2)', async () => {
    const { server, port } = await echoServer();
    const client = pskClient(port, { identity: 'mallory' });
    try {
      await client.waitFor(/alert number 115\b/);
    } finally {
      await client.stop();
      await server.close();
    }
  });

  it('completes PSK-AES128-CBC-SHA256 (RFC 5487)', async () => {
    const { server, port } = await echoServer();
    const client = pskClient(port, { cipher: 'PSK-AES128-CBC-SHA256' });
    try {
      client.write('cbc\n');
      await client.waitFor(/echo:cbc/);
      assert.match(client.output, /Cipher is PSK-AES128-CBC-SHA256/);
    } finally {
      await client.stop();
      await server.close();
    }
  });

  for (const [cipher, name] of [
    ['ECDHE-ECDSA-AES128-CCM8', 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 (RFC 7251)'],
    ['ECDHE-ECDSA-AES128-GCM-SHA256', 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 (RFC 5289)'],
  ] as const) {
    it(`completes ${name} with X.509 certificates both ways`, async () => {
      const { server, port, peers } = await echoServer({
        certificate: { privateKey: pki.serverKey, certificateChain: [pki.serverCert] },
        trust: { trustedCertificates: [pki.caPem] },
        clientAuth: 'require',
      });
      const client = new Peer('openssl', [
        's_client',
        '-dtls1_2',
        '-cipher',
        cipher,
        '-CAfile',
        pki.path('ca.pem'),
        '-verify_return_error',
        '-cert',
        pki.path('client.pem'),
        '-key',
        pki.path('client.key'),
        '-connect',
        `127.0.0.1:${port}`,
      ]);
      try {
        client.write('ecdhe\n');
        await client.waitFor(/echo:ecdhe/);
        assert.match(client.output, new RegExp(`Cipher is ${cipher}`));
        assert.match(client.output, /Verify return code: 0 \(ok\)/);
        const identity = peers[0]?.identity;
        assert.equal(identity?.kind, 'x509');
        assert.equal(identity?.kind === 'x509' && identity.subject, 'CN=dev1');
      } finally {
        await client.stop();
        await server.close();
      }
    });
  }

  it('honours -maxfraglen 512 with a certificate flight larger than that (RFC 6066 §4)', async () => {
    const { server, port } = await echoServer({
      certificate: { privateKey: pki.serverKey, certificateChain: [pki.serverCert, pki.caPem] },
    });
    const client = new Peer('openssl', [
      's_client',
      '-dtls1_2',
      '-maxfraglen',
      '512',
      '-cipher',
      'ECDHE-ECDSA-AES128-CCM8',
      '-CAfile',
      pki.path('ca.pem'),
      '-verify_return_error',
      '-connect',
      `127.0.0.1:${port}`,
    ]);
    try {
      client.write('fragments\n');
      // OpenSSL refuses records over the negotiated length (record_overflow), so the echo
      // arriving shows every record stayed within 512 bytes.
      await client.waitFor(/echo:fragments/);
      assert.match(client.output, /Cipher is ECDHE-ECDSA-AES128-CCM8/);
    } finally {
      await client.stop();
      await server.close();
    }
  });

  it('refuses a client certificate from an untrusted CA with unknown_ca (RFC 5246 §7.2.2)', async () => {
    const { server, port } = await echoServer({
      certificate: { privateKey: pki.serverKey, certificateChain: [pki.serverCert] },
      trust: { trustedCertificates: [pki.caPem] },
      clientAuth: 'require',
    });
    const client = new Peer('openssl', [
      's_client',
      '-dtls1_2',
      '-cipher',
      'ECDHE-ECDSA-AES128-CCM8',
      '-CAfile',
      pki.path('ca.pem'),
      '-cert',
      pki.path('stranger.pem'),
      '-key',
      pki.path('stranger.key'),
      '-connect',
      `127.0.0.1:${port}`,
    ]);
    try {
      await client.waitFor(/alert number 48\b/);
    } finally {
      await client.stop();
      await server.close();
    }
  });
});

describe('interop with openssl s_server (our client)', () => {
  let pki: TestPki;
  before(() => {
    pki = makePki();
  });
  after(() => pki.remove());

  async function converse(
    serverArgs: string[],
    options: Partial<ConstructorParameters<typeof DtlsClientTransport>[0]>,
  ) {
    const server = new Peer('openssl', [
      's_server',
      '-dtls1_2',
      '-accept',
      '127.0.0.1:0',
      ...serverArgs,
    ]);
    const client = { transport: undefined as DtlsClientTransport | undefined };
    try {
      const port = Number((await server.waitFor(/ACCEPT 127\.0\.0\.1:(\d+)/))[1]);
      const transport = new DtlsClientTransport({ host: '127.0.0.1', port, ...options });
      client.transport = transport;
      const got: string[] = [];
      let gotReply: () => void = () => {};
      const reply = new Promise<void>((r) => {
        gotReply = r;
      });
      transport.onReceive((data) => {
        got.push(data.toString());
        gotReply();
      });
      transport.send(transport.peer, Buffer.from('hello from tandem\n'));
      await transport.client.connect();
      await server.waitFor(/hello from tandem/);
      server.write('hello from openssl\n');
      await reply;
      return {
        got,
        suite: transport.client.cipherSuite,
        identity: transport.peer.identity,
        output: server.output,
      };
    } finally {
      await client.transport?.close();
      await server.stop();
    }
  }

  it('completes PSK-AES128-CCM8 and carries data both ways (RFC 6655, RFC 6347)', async () => {
    const r = await converse(
      ['-psk', PSK_HEX, '-psk_identity', 'dev1', '-cipher', 'PSK-AES128-CCM8', '-nocert'],
      {
        psk: { identity: 'dev1', key: PSK },
      },
    );
    assert.equal(r.suite, 'TLS_PSK_WITH_AES_128_CCM_8');
    assert.deepEqual(r.got, ['hello from openssl\n']);
  });

  it('answers a HelloRequest with a no_renegotiation warning (RFC 5746 §4.2)', async () => {
    const server = new Peer('openssl', [
      's_server',
      '-dtls1_2',
      '-accept',
      '127.0.0.1:0',
      '-psk',
      PSK_HEX,
      '-cipher',
      'PSK-AES128-CCM8',
      '-nocert',
    ]);
    let transport: DtlsClientTransport | undefined;
    try {
      const port = Number((await server.waitFor(/ACCEPT 127\.0\.0\.1:(\d+)/))[1]);
      transport = new DtlsClientTransport({
        host: '127.0.0.1',
        port,
        psk: { identity: 'dev1', key: PSK },
      });
      const closed = new Promise<unknown>((resolve) => transport!.client.onClose(resolve));
      transport.send(transport.peer, Buffer.from('before\n'));
      await transport.client.connect();
      await server.waitFor(/before/);
      server.write('r\n'); // s_server: send a HelloRequest
      await server.waitFor(/no renegotiation/);
      // OpenSSL ends the connection when its renegotiation is refused.
      assert.equal(((await closed) as { code?: string }).code, 'DTLS_ERR_HANDSHAKE_FAILURE');
    } finally {
      await transport?.close();
      await server.stop();
    }
  });

  it('resumes a session with openssl s_server (RFC 5246 §7.3)', async () => {
    const server = new Peer('openssl', [
      's_server',
      '-dtls1_2',
      '-accept',
      '127.0.0.1:0',
      '-psk',
      PSK_HEX,
      '-cipher',
      'PSK-AES128-CCM8',
      '-nocert',
    ]);
    const transports: DtlsClientTransport[] = [];
    try {
      const port = Number((await server.waitFor(/ACCEPT 127\.0\.0\.1:(\d+)/))[1]);
      const first = new DtlsClientTransport({
        host: '127.0.0.1',
        port,
        psk: { identity: 'dev1', key: PSK },
      });
      transports.push(first);
      await first.connect();
      assert.equal(first.client.resumed, false);
      const session = first.client.session;
      await first.close();
      // s_server serves one connection at a time: if the new ClientHello comes too early it is
      // lost, and the client's retransmission timer (RFC 6347 §4.2.4) sends it again.
      const second = new DtlsClientTransport({
        host: '127.0.0.1',
        port,
        psk: { identity: 'dev1', key: PSK },
        session,
      });
      transports.push(second);
      second.send(second.peer, Buffer.from('resumed\n'));
      await second.connect();
      assert.equal(second.client.resumed, true);
      await server.waitFor(/resumed/);
    } finally {
      for (const t of transports) await t.close();
      await server.stop();
    }
  });

  it('completes PSK-AES128-CBC-SHA256 (RFC 5487)', async () => {
    const r = await converse(['-psk', PSK_HEX, '-cipher', 'PSK-AES128-CBC-SHA256', '-nocert'], {
      psk: { identity: 'dev1', key: PSK },
      cipherSuites: ['TLS_PSK_WITH_AES_128_CBC_SHA256'],
    });
    assert.equal(r.suite, 'TLS_PSK_WITH_AES_128_CBC_SHA256');
  });

  it('completes ECDHE-ECDSA-AES128-CCM8 with a verified server certificate and a client certificate (RFC 7251)', async () => {
    const r = await converse(
      [
        '-cipher',
        'ECDHE-ECDSA-AES128-CCM8',
        '-cert',
        pki.path('server.pem'),
        '-key',
        pki.path('server.key'),
        '-Verify',
        '2',
        '-CAfile',
        pki.path('ca.pem'),
      ],
      {
        cipherSuites: ['TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8'],
        trust: { trustedCertificates: [pki.caPem] },
        certificate: { privateKey: pki.clientKey, certificateChain: [pki.clientCert] },
      },
    );
    assert.equal(r.suite, 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8');
    assert.equal(r.identity?.kind === 'x509' && r.identity.subject, 'CN=server.test');
    assert.match(r.output, /CN ?= ?dev1/);
  });

  it('completes ECDHE-ECDSA-AES128-GCM-SHA256 (RFC 5289)', async () => {
    const r = await converse(
      [
        '-cipher',
        'ECDHE-ECDSA-AES128-GCM-SHA256',
        '-cert',
        pki.path('server.pem'),
        '-key',
        pki.path('server.key'),
      ],
      {
        cipherSuites: ['TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256'],
        trust: { trustedCertificates: [pki.caPem] },
      },
    );
    assert.equal(r.suite, 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256');
  });

  it('refuses a server certificate that does not chain to the trust store (RFC 5246 §7.2.2 unknown_ca)', async () => {
    const server = new Peer('openssl', [
      's_server',
      '-dtls1_2',
      '-accept',
      '127.0.0.1:0',
      '-cipher',
      'ECDHE-ECDSA-AES128-CCM8',
      '-cert',
      pki.path('server.pem'),
      '-key',
      pki.path('server.key'),
    ]);
    let transport: DtlsClientTransport | undefined;
    try {
      const port = Number((await server.waitFor(/ACCEPT 127\.0\.0\.1:(\d+)/))[1]);
      transport = new DtlsClientTransport({
        host: '127.0.0.1',
        port,
        cipherSuites: ['TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8'],
        trust: { trustedCertificates: [pki.otherCaPem] },
      });
      await assert.rejects(transport.connect(), { code: 'DTLS_ERR_UNKNOWN_CA' });
      await server.waitFor(/alert number 48\b|unknown ca/i);
    } finally {
      await transport?.close();
      await server.stop();
    }
  });
});
