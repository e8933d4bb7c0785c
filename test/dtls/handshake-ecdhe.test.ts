import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { describeDatagram, Lossy } from './helpers.js';
import { makePki, type TestPki } from './pki.js';

const spki = (k: KeyObject) => k.export({ format: 'der', type: 'spki' }) as Buffer;

describe('ECDHE_ECDSA handshakes', () => {
  let pki: TestPki;
  before(() => {
    pki = makePki();
  });
  after(() => pki.remove());

  const x509Server = () => ({
    certificate: { privateKey: pki.serverKey, certificateChain: [pki.serverCert] },
    trust: { trustedCertificates: [pki.caPem] },
  });
  const x509Client = () => ({
    psk: undefined,
    cipherSuites: ['TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8' as const],
    certificate: { privateKey: pki.clientKey, certificateChain: [pki.clientCert] },
    trust: { trustedCertificates: [pki.caPem] },
  });

  it('authenticates both sides with raw public keys (RFC 7250 §4)', async () => {
    const s = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const c = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const net = new Lossy(
      {
        certificate: { privateKey: s.privateKey },
        trust: { rawPublicKeyTrust: (k) => k.equals(spki(c.publicKey)) },
      },
      {
        psk: undefined,
        cipherSuites: ['TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8'],
        certificate: { privateKey: c.privateKey },
        trust: { rawPublicKeyTrust: (k) => k.equals(spki(s.publicKey)) },
      },
    );
    net.client.send(Buffer.from('rpk'));
    assert.equal(await net.handshake(), undefined);
    net.pump();
    assert.equal(net.client.cipherSuite, 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8');
    assert.deepEqual(net.client.serverIdentity, { kind: 'rpk', publicKey: spki(s.publicKey) });
    assert.deepEqual(net.lastPeer?.identity, { kind: 'rpk', publicKey: spki(c.publicKey) });
    assert.deepEqual(net.received.server, ['rpk']);
  });

  it('refuses a raw public key client when only X.509 is trusted and a certificate is required (RFC 7250 §4.2)', async () => {
    const c = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const net = new Lossy(
      { ...x509Server(), clientAuth: 'require' },
      { ...x509Client(), certificate: { privateKey: c.privateKey } },
    );
    const err = (await net.handshake()) as { code?: string } | undefined;
    assert.equal(err?.code, 'DTLS_ERR_UNSUPPORTED_CERTIFICATE');
  });

  it('sends the flights of a mutually authenticated handshake in lockstep (RFC 5246 §7.3)', async () => {
    const net = new Lossy({ ...x509Server(), clientAuth: 'require' }, x509Client());
    assert.equal(await net.handshake(), undefined);
    const flights = net.log.map(
      (l) => `${l.dir === 'to-server' ? 'C' : 'S'} ${describeDatagram(l.d).join(' ')}`,
    );
    assert.deepEqual(flights, [
      'C hs:1',
      'S hs:3',
      'C hs:1',
      'S hs:2 hs:11 hs:12 hs:13 hs:14', // ServerHello Certificate ServerKeyExchange CertificateRequest ServerHelloDone
      'C hs:11 hs:16 hs:15 20@0 22@1', // Certificate ClientKeyExchange CertificateVerify CCS Finished
      'S 20@0 22@1',
    ]);
  });

  it('refuses a raw public key the trust callback does not know (RFC 7250 §4.3 bad_certificate)', async () => {
    const s = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const net = new Lossy(
      { certificate: { privateKey: s.privateKey } },
      {
        psk: undefined,
        cipherSuites: ['TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8'],
        trust: { rawPublicKeyTrust: () => false },
      },
    );
    const err = (await net.handshake()) as { code?: string } | undefined;
    assert.equal(err?.code, 'DTLS_ERR_BAD_CERTIFICATE');
  });

  it('validates X.509 chains against the trust store both ways (RFC 5246 §7.4.2, §7.4.6)', async () => {
    const net = new Lossy({ ...x509Server(), clientAuth: 'require' }, x509Client());
    net.client.send(Buffer.from('x509'));
    assert.equal(await net.handshake(), undefined);
    net.pump();
    const server = net.client.serverIdentity;
    assert.equal(server?.kind === 'x509' && server.subject, 'CN=server.test');
    const client = net.lastPeer?.identity;
    assert.equal(client?.kind === 'x509' && client.subject, 'CN=dev1');
  });

  it('validates a chain through an intermediate CA to the trust anchor (RFC 5280 §6.1)', async () => {
    const net = new Lossy(
      {
        certificate: {
          privateKey: pki.chainedKey,
          certificateChain: [pki.chainedCert, pki.intermediateCert],
        },
      },
      { ...x509Client(), certificate: undefined },
    );
    assert.equal(await net.handshake(), undefined);
    const server = net.client.serverIdentity;
    assert.equal(server?.kind === 'x509' && server.subject, 'CN=chained.test');
  });

  it('refuses a chain that lacks its intermediate CA with unknown_ca (RFC 5280 §6.1)', async () => {
    const net = new Lossy(
      { certificate: { privateKey: pki.chainedKey, certificateChain: [pki.chainedCert] } },
      { ...x509Client(), certificate: undefined },
    );
    const err = (await net.handshake()) as { code?: string } | undefined;
    assert.equal(err?.code, 'DTLS_ERR_UNKNOWN_CA');
  });

  it('checks the server name against the certificate when asked to (RFC 6125 §6)', async () => {
    const good = new Lossy(x509Server(), {
      ...x509Client(),
      certificate: undefined,
      serverName: '127.0.0.1',
    });
    assert.equal(await good.handshake(), undefined);
    const bad = new Lossy(x509Server(), {
      ...x509Client(),
      certificate: undefined,
      serverName: 'other.test',
    });
    const err = (await bad.handshake()) as { code?: string } | undefined;
    assert.equal(err?.code, 'DTLS_ERR_BAD_CERTIFICATE');
  });

  it('refuses a client certificate from an untrusted CA with unknown_ca (RFC 5246 §7.2.2)', async () => {
    const net = new Lossy(
      { ...x509Server(), clientAuth: 'require' },
      {
        ...x509Client(),
        certificate: { privateKey: pki.strangerKey, certificateChain: [pki.strangerCert] },
      },
    );
    const err = (await net.handshake()) as { code?: string } | undefined;
    assert.equal(err?.code, 'DTLS_ERR_UNKNOWN_CA');
  });

  it('refuses a client without a certificate when one is required (RFC 5246 §7.4.6)', async () => {
    const net = new Lossy(
      { ...x509Server(), clientAuth: 'require' },
      { ...x509Client(), certificate: undefined },
    );
    const err = (await net.handshake()) as { code?: string } | undefined;
    assert.equal(err?.code, 'DTLS_ERR_HANDSHAKE_FAILURE');
  });

  it('lets a client without a certificate in when one is only wanted (RFC 5246 §7.4.6)', async () => {
    const net = new Lossy(
      { ...x509Server(), clientAuth: 'want' },
      { ...x509Client(), certificate: undefined },
    );
    net.client.send(Buffer.from('anonymous'));
    assert.equal(await net.handshake(), undefined);
    net.pump();
    assert.equal(net.lastPeer?.identity, undefined);
  });

  it('refuses an expired server certificate with certificate_expired (RFC 5280 §4.1.2.5)', async () => {
    const net = new Lossy(x509Server(), { ...x509Client(), certificate: undefined });
    net.clock.advance(10 * 24 * 3600_000); // the test certificates live two days
    const err = (await net.handshake()) as { code?: string } | undefined;
    assert.equal(err?.code, 'DTLS_ERR_CERTIFICATE_EXPIRED');
  });

  it('fragments a certificate flight and reassembles it out of order (RFC 6347 §4.2.3)', async () => {
    const net = new Lossy(
      { ...x509Server(), mtu: 200 },
      { ...x509Client(), certificate: undefined },
    );
    net.fate = (dir, n) => (dir === 'to-client' && n >= 1 && n <= 6 ? 'hold' : 'deliver');
    const done = net.handshake();
    assert.ok(net.held.length >= 3, `server flight in ${net.held.length} datagrams`);
    for (const h of net.held) assert.ok(h.d.length <= 200);
    net.release();
    net.pump();
    assert.equal(await done, undefined);
  });

  it('backs off to smaller datagrams when a large flight goes unanswered (RFC 6347 §4.1.1.1)', async () => {
    const net = new Lossy({ ...x509Server(), clientAuth: 'require' }, x509Client());
    // A path that drops every datagram over 548 bytes (and tells nobody).
    net.fate = (_dir, _n, d) => (d.length > 548 ? 'drop' : 'deliver');
    assert.equal(await net.handshake(), undefined);
    assert.ok(
      net.log.some((l) => l.fate === 'drop'),
      'the first certificate flights were too large',
    );
  });

  it('keeps every record within a negotiated max_fragment_length of 512 (RFC 6066 §4)', async () => {
    const net = new Lossy(x509Server(), { ...x509Client(), maxFragmentLength: 512 });
    net.client.send(Buffer.from('small records'));
    assert.equal(await net.handshake(), undefined);
    net.pump();
    assert.deepEqual(net.received.server, ['small records']);
    // A record is 13 header bytes, 8 explicit nonce, 8 tag around at most 512 plaintext bytes.
    for (const l of net.log.filter((x) => x.dir === 'to-client')) {
      for (let o = 0; o < l.d.length; ) {
        const length = l.d.readUInt16BE(o + 11);
        assert.ok(length <= 512 + 16, `record of ${length} bytes`);
        o += 13 + length;
      }
    }
    assert.equal(net.server.send(net.lastPeerKey!, Buffer.alloc(513)), false);
    assert.equal(net.server.send(net.lastPeerKey!, Buffer.alloc(512)), true);
  });

  it('keeps every record within the record_size_limit the client sent (RFC 8449 §4)', async () => {
    const net = new Lossy(x509Server(), {
      ...x509Client(),
      recordSizeLimit: 300,
      maxFragmentLength: 4096,
    });
    net.client.send(Buffer.from('limited'));
    assert.equal(await net.handshake(), undefined);
    net.pump();
    assert.deepEqual(net.received.server, ['limited']);
    for (const l of net.log.filter((x) => x.dir === 'to-client')) {
      for (let o = 0; o < l.d.length; ) {
        const length = l.d.readUInt16BE(o + 11);
        assert.ok(length <= 300 + 16, `record of ${length} bytes`);
        o += 13 + length;
      }
    }
    assert.equal(net.server.send(net.lastPeerKey!, Buffer.alloc(301)), false);
  });

  it('negotiates TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 (RFC 5289)', async () => {
    const net = new Lossy(x509Server(), {
      ...x509Client(),
      certificate: undefined,
      cipherSuites: ['TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256'],
    });
    net.client.send(Buffer.from('gcm'));
    assert.equal(await net.handshake(), undefined);
    net.pump();
    assert.equal(net.client.cipherSuite, 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256');
    assert.deepEqual(net.received.server, ['gcm']);
  });

  it('fails with handshake_failure when no suite is shared (RFC 5246 §7.4.1.3)', async () => {
    // A PSK-only server and an ECDHE-only client.
    const net = new Lossy({}, { ...x509Client(), certificate: undefined });
    const err = (await net.handshake()) as { code?: string } | undefined;
    assert.equal(err?.code, 'DTLS_ERR_HANDSHAKE_FAILURE');
  });
});
