import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Code } from '../../src/coap/code.js';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import {
  DtlsClientTransport,
  type DtlsClientTransportOptions,
} from '../../src/dtls/client-transport.js';
import {
  DtlsServerTransport,
  type DtlsServerTransportOptions,
} from '../../src/dtls/server-transport.js';
import type { PeerIdentity } from '../../src/transport/datagram.js';
import { Peer } from './peers.js';
import { makePki, type TestPki } from './pki.js';

/**
 * A minimal hard-coded CoAP responder (RFC 7252 §3): every CON or NON request gets a 2.05
 * Content with the given payload, piggy-backed in an ACK for a CON. The real endpoint lives in
 * src/coap; this only proves that CoAP datagrams cross our DTLS transport.
 */
function coapContent(request: Buffer, payload: string): Buffer | undefined {
  if (request.length < 4) return undefined;
  const version = request[0]! >> 6;
  const type = (request[0]! >> 4) & 3;
  const tkl = request[0]! & 0x0f;
  if (version !== 1 || tkl > 8 || request.length < 4 + tkl || type > 1) return undefined;
  if (request[1]! >> 5 !== 0) return undefined; // RFC 7252 §12.1: only requests (class 0)
  const token = request.subarray(4, 4 + tkl);
  const header = Buffer.from([
    0x40 | ((type === 0 ? 2 : 1) << 4) | tkl,
    0x45,
    request[2]!,
    request[3]!,
  ]);
  return Buffer.concat([header, token, Buffer.from([0xff]), Buffer.from(payload)]);
}

async function coapServer(options: Partial<DtlsServerTransportOptions>) {
  const server = new DtlsServerTransport({ host: '127.0.0.1', port: 0, ...options });
  const identities: (PeerIdentity | undefined)[] = [];
  server.onReceive((data, peer) => {
    identities.push(peer.identity);
    const answer = coapContent(data, 'hello over dtls');
    if (answer) server.send(peer, answer);
  });
  const { port } = await server.listen();
  return { server, port, identities };
}

async function runClient(command: string, args: string[]): Promise<string> {
  const peer = new Peer(command, ['-B', '20', ...args]);
  try {
    await peer.exited;
  } finally {
    await peer.stop();
  }
  return peer.output;
}

const pskKey = 'tandem-secret';
const pskStore = (id: string) => (id === 'dev1' ? Buffer.from(pskKey) : undefined);

describe('interop with libcoap coap-client over our server transport', () => {
  let pki: TestPki;
  before(() => {
    pki = makePki();
  });
  after(() => pki.remove());

  for (const command of ['coap-client-openssl', 'coap-client-gnutls']) {
    it(`${command} GETs over PSK (RFC 7925 §4.2, TLS_PSK_WITH_AES_128_CCM_8)`, async () => {
      const { server, port, identities } = await coapServer({ pskStore });
      try {
        const out = await runClient(command, [
          '-u',
          'dev1',
          '-k',
          pskKey,
          `coaps://127.0.0.1:${port}/test`,
        ]);
        // coap-client exits 0 even when the handshake fails: the payload is the proof.
        assert.match(out, /hello over dtls/);
        assert.deepEqual(identities[0], { kind: 'psk', identity: 'dev1' });
      } finally {
        await server.close();
      }
      assert.equal(server.stats.handshakesCompleted, 1);
    });
  }

  it('coap-client-openssl with a wrong key gets no answer (RFC 5246 §7.2.2)', async () => {
    const { server, port, identities } = await coapServer({ pskStore });
    try {
      const out = await runClient('coap-client-openssl', [
        '-u',
        'dev1',
        '-k',
        'wrong-secret',
        `coaps://127.0.0.1:${port}/test`,
      ]);
      assert.doesNotMatch(out, /hello over dtls/);
      assert.equal(identities.length, 0);
    } finally {
      await server.close();
    }
    assert.equal(server.stats.handshakesCompleted, 0);
    assert.ok(server.stats.handshakesFailed >= 1);
  });

  /**
   * coap-client-gnutls -M, with a new raw key, GETs from our server presenting `certificate`
   * and trusting that key (and `trustedCertificates`).
   */
  async function gnutlsRpkGet(
    name: string,
    certificate: DtlsServerTransportOptions['certificate'],
    trustedCertificates: string[] = [],
  ) {
    const clientKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const rpkFile = pki.path(`${name}.pem`);
    writeFileSync(rpkFile, clientKey.privateKey.export({ format: 'pem', type: 'sec1' }));
    const clientSpki = clientKey.publicKey.export({ format: 'der', type: 'spki' });
    const { server, port, identities } = await coapServer({
      certificate,
      trust: { trustedCertificates, rawPublicKeyTrust: (spki) => spki.equals(clientSpki) },
      clientAuth: 'require',
    });
    try {
      const out = await runClient('coap-client-gnutls', [
        '-M',
        rpkFile,
        `coaps://127.0.0.1:${port}/test`,
      ]);
      return { out, identity: identities[0], clientSpki };
    } finally {
      await server.close();
    }
  }

  it('coap-client-gnutls GETs with raw public keys both ways (RFC 7250)', async () => {
    const serverKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const r = await gnutlsRpkGet('rpk-both', { privateKey: serverKey.privateKey });
    assert.match(r.out, /hello over dtls/);
    assert.deepEqual(r.identity, { kind: 'rpk', publicKey: r.clientSpki });
  });

  it('coap-client-gnutls with a raw public key gets the raw key of our X.509 certificate (RFC 7250 §4.3)', async () => {
    const r = await gnutlsRpkGet(
      'rpk-to-x509',
      { privateKey: pki.serverKey, certificateChain: [pki.serverCert] },
      [pki.caPem],
    );
    assert.match(r.out, /hello over dtls/);
    assert.deepEqual(r.identity, { kind: 'rpk', publicKey: r.clientSpki });
  });

  it('coap-client-openssl GETs with X.509 certificates both ways (RFC 7925 §4.4.2)', async () => {
    const { server, port, identities } = await coapServer({
      certificate: { privateKey: pki.serverKey, certificateChain: [pki.serverCert] },
      trust: { trustedCertificates: [pki.caPem] },
      clientAuth: 'require',
    });
    try {
      const out = await runClient('coap-client-openssl', [
        '-c',
        pki.path('client.pem'),
        '-j',
        pki.path('client.key'),
        '-C',
        pki.path('ca.pem'),
        `coaps://127.0.0.1:${port}/test`,
      ]);
      assert.match(out, /hello over dtls/);
      assert.equal(identities[0]?.kind === 'x509' && identities[0].subject, 'CN=dev1');
    } finally {
      await server.close();
    }
  });

  it('coap-client-gnutls GETs with X.509 certificates both ways (RFC 7925 §4.4.2)', async () => {
    const { server, port, identities } = await coapServer({
      certificate: { privateKey: pki.serverKey, certificateChain: [pki.serverCert] },
      trust: { trustedCertificates: [pki.caPem] },
      clientAuth: 'require',
    });
    try {
      const out = await runClient('coap-client-gnutls', [
        '-c',
        pki.path('client.pem'),
        '-j',
        pki.path('client.key'),
        '-C',
        pki.path('ca.pem'),
        `coaps://127.0.0.1:${port}/test`,
      ]);
      assert.match(out, /hello over dtls/);
      assert.equal(identities[0]?.kind === 'x509' && identities[0].subject, 'CN=dev1');
    } finally {
      await server.close();
    }
  });
});

describe('interop with libcoap coap-server-gnutls (our client transport)', () => {
  let pki: TestPki;
  let serverRpk: string;
  let serverSpki: Buffer;
  before(() => {
    pki = makePki();
    serverRpk = pki.path('server-rpk.pem');
    writeFileSync(
      serverRpk,
      createPrivateKey(pki.serverKey).export({ format: 'pem', type: 'sec1' }),
    );
    serverSpki = createPublicKey(pki.serverKey).export({ format: 'der', type: 'spki' });
  });
  after(() => pki.remove());

  /** GETs / from a coap-server-gnutls started with `args` (its DTLS port is its CoAP port + 1). */
  async function get(args: string[], options: Partial<DtlsClientTransportOptions>) {
    const probe = createSocket('udp4');
    await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', () => resolve()));
    const port = probe.address().port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const server = new Peer('coap-server-gnutls', ['-A', '127.0.0.1', '-p', String(port), ...args]);
    // Until the server is up, the ClientHello is retransmitted (RFC 6347 §4.2.4).
    const transport = new DtlsClientTransport({
      host: '127.0.0.1',
      port: port + 1,
      retransmit: { initialMs: 200 },
      ...options,
    });
    const endpoint = new CoapEndpoint(transport);
    try {
      const res = await endpoint.request(transport.peer, { code: Code.Get, path: '/' });
      return { res, suite: transport.client.cipherSuite, identity: transport.peer.identity };
    } finally {
      await endpoint.close();
      await server.stop();
    }
  }

  it('GETs over PSK (RFC 7925 §4.2, TLS_PSK_WITH_AES_128_CCM_8)', async () => {
    const r = await get(['-k', pskKey], { psk: { identity: 'dev1', key: Buffer.from(pskKey) } });
    assert.equal(r.res.code, Code.Content);
    assert.match(r.res.payload.toString(), /libcoap/);
    assert.equal(r.suite, 'TLS_PSK_WITH_AES_128_CCM_8');
  });

  it('GETs with raw public keys both ways (RFC 7250 §4.2, §4.3)', async () => {
    const r = await get(['-M', serverRpk], {
      certificate: { privateKey: pki.clientKey },
      trust: { rawPublicKeyTrust: (k) => k.equals(serverSpki) },
    });
    assert.equal(r.res.code, Code.Content);
    assert.deepEqual(r.identity, { kind: 'rpk', publicKey: serverSpki });
  });

  it('GETs with X.509 certificates both ways (RFC 7925 §4.4.2)', async () => {
    const r = await get(
      ['-c', pki.path('server.pem'), '-j', pki.path('server.key'), '-C', pki.path('ca.pem')],
      {
        certificate: { privateKey: pki.clientKey, certificateChain: [pki.clientCert] },
        trust: { trustedCertificates: [pki.caPem] },
      },
    );
    assert.equal(r.res.code, Code.Content);
    assert.equal(r.identity?.kind === 'x509' && r.identity.subject, 'CN=server.test');
  });

  it('sends the key of its certificate as a raw public key to a raw-key server (RFC 7250 §4.2, §4.3)', async () => {
    const r = await get(['-M', serverRpk], {
      certificate: { privateKey: pki.clientKey, certificateChain: [pki.clientCert] },
      trust: { rawPublicKeyTrust: (k) => k.equals(serverSpki) },
    });
    assert.equal(r.res.code, Code.Content);
    assert.deepEqual(r.identity, { kind: 'rpk', publicKey: serverSpki });
  });
});
