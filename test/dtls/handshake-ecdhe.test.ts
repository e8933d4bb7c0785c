import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type Direction, describeDatagram, Lossy } from './helpers.js';
import { makePki, type TestPki } from './pki.js';

const spki = (k: KeyObject) => k.export({ format: 'der', type: 'spki' }) as Buffer;

/** Rewrites, in place, the bytes `from` (hex) of a plaintext handshake datagram into `to`. */
function patch(d: Buffer, from: string, to: string): void {
  const at = d.indexOf(Buffer.from(from, 'hex'));
  if (at >= 0) Buffer.from(to, 'hex').copy(d, at);
}

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

  it('presents the key of its X.509 certificate as a raw public key to a client that takes only raw keys (RFC 7250 §4.3)', async () => {
    const serverSpki = spki(createPublicKey(pki.serverKey));
    const net = new Lossy(x509Server(), {
      psk: undefined,
      cipherSuites: ['TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8'],
      trust: { rawPublicKeyTrust: (k) => k.equals(serverSpki) },
    });
    net.client.send(Buffer.from('rpk to an x509 server'));
    assert.equal(await net.handshake(), undefined);
    net.pump();
    assert.deepEqual(net.client.serverIdentity, { kind: 'rpk', publicKey: serverSpki });
    assert.deepEqual(net.received.server, ['rpk to an x509 server']);
  });

  it("takes the client's preferred server certificate type, a raw key for a raw-key client (RFC 7250 §4.1, §4.3)", async () => {
    const c = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const both = { trustedCertificates: [pki.caPem], rawPublicKeyTrust: () => true };
    const chosen = async (clientKey: boolean) => {
      const net = new Lossy(
        { ...x509Server(), trust: { rawPublicKeyTrust: () => true }, clientAuth: 'want' },
        {
          ...x509Client(),
          trust: both,
          certificate: clientKey ? { privateKey: c.privateKey } : undefined,
        },
      );
      // The client's list [RawPublicKey, X.509] is turned around, as libcoap's GnuTLS build
      // sends it. (The handshake then fails on the transcript; the ServerHello tells the choice.)
      net.fate = (dir, _n, d) => {
        if (dir === 'to-server') patch(d, '00140003020200', '00140003020002');
        return 'deliver';
      };
      await net.handshake();
      const hello = net.log.find(
        (l) => l.dir === 'to-client' && describeDatagram(l.d)[0] === 'hs:2',
      );
      const at = hello!.d.indexOf(Buffer.from('00140001', 'hex'));
      return hello!.d[at + 4];
    };
    assert.equal(await chosen(false), 0, 'X.509, the first of the list');
    assert.equal(await chosen(true), 2, 'RawPublicKey for a client with a raw public key');
  });

  it('sends the key of its X.509 certificate as a raw public key to a server that trusts raw keys only (RFC 7250 §4.3)', async () => {
    const clientSpki = spki(createPublicKey(pki.clientKey));
    const net = new Lossy(
      {
        ...x509Server(),
        trust: { rawPublicKeyTrust: (k) => k.equals(clientSpki) },
        clientAuth: 'require',
      },
      x509Client(),
    );
    net.client.send(Buffer.from('x509 client, rpk server'));
    assert.equal(await net.handshake(), undefined);
    net.pump();
    assert.deepEqual(net.lastPeer?.identity, { kind: 'rpk', publicKey: clientSpki });
    assert.deepEqual(net.received.server, ['x509 client, rpk server']);
  });

  /**
   * A server with a raw public key only and a client that takes raw keys only; `from` is
   * rewritten into `to` (hex) in the plaintext handshake datagrams going `dir`.
   */
  const rawKeysPatched = (dir: Direction, from: string, to: string) => {
    const s = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const net = new Lossy(
      { certificate: { privateKey: s.privateKey } },
      {
        psk: undefined,
        cipherSuites: ['TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8'],
        trust: { rawPublicKeyTrust: () => true },
      },
    );
    net.fate = (d, _n, datagram) => {
      if (d === dir) patch(datagram, from, to);
      return 'deliver';
    };
    return net;
  };

  it('answers unsupported_certificate when no server certificate type is in common (RFC 7250 §4.3)', async () => {
    // The client's server_certificate_type list becomes [X.509]: a server with only a raw
    // public key has nothing to present.
    const net = rawKeysPatched('to-server', '001400020102', '001400020100');
    const err = (await net.handshake()) as { code?: string } | undefined;
    assert.equal(err?.code, 'DTLS_ERR_UNSUPPORTED_CERTIFICATE');
    assert.equal(net.server.stats.handshakesFailed, 1);
  });

  it('answers handshake_failure to a client that takes X.509 only from a server with a raw public key only (RFC 7250 §4.2)', async () => {
    const s = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const net = new Lossy(
      { certificate: { privateKey: s.privateKey } },
      { ...x509Client(), certificate: undefined },
    );
    const err = (await net.handshake()) as { code?: string } | undefined;
    assert.equal(err?.code, 'DTLS_ERR_HANDSHAKE_FAILURE');
  });

  it('refuses a ServerHello certificate type it did not offer (RFC 7250 §4.3)', async () => {
    // The server chose RawPublicKey (2); the client, which offered only that, reads X.509 (0).
    const net = rawKeysPatched('to-client', '0014000102', '0014000100');
    const err = (await net.handshake()) as { code?: string } | undefined;
    assert.equal(err?.code, 'DTLS_ERR_ILLEGAL_PARAMETER');
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
