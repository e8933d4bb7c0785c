import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeDatagram, Lossy, PSK } from './helpers.js';

describe('PSK handshake (TLS_PSK_WITH_AES_128_CCM_8)', () => {
  it('completes after a stateless cookie exchange and carries data both ways (RFC 6347 §4.2.1)', async () => {
    const net = new Lossy();
    net.client.send(Buffer.from('ping'));
    assert.equal(await net.handshake(), undefined);
    net.pump();
    assert.equal(net.client.cipherSuite, 'TLS_PSK_WITH_AES_128_CCM_8');
    assert.deepEqual(net.received.server, ['ping']);
    assert.deepEqual(net.lastPeer?.identity, { kind: 'psk', identity: 'dev1' });
    assert.ok(net.server.send(net.lastPeerKey!, Buffer.from('pong')));
    net.pump();
    assert.deepEqual(net.received.client, ['pong']);
    assert.equal(net.server.stats.helloVerifyRequestsSent, 1);
    assert.equal(net.server.stats.handshakesCompleted, 1);
    assert.equal(net.server.sessions, 1);
    assert.ok(
      net.client.session?.extendedMasterSecret,
      'extended master secret negotiated (RFC 7627)',
    );
  });

  it('exchanges the six flights of a full handshake in lockstep (RFC 6347 §4.2.4 figure 1)', async () => {
    const net = new Lossy();
    assert.equal(await net.handshake(), undefined);
    const flights = net.log.map(
      (l) => `${l.dir === 'to-server' ? 'C' : 'S'} ${describeDatagram(l.d).join(' ')}`,
    );
    assert.deepEqual(flights, [
      'C hs:1', // flight 1: ClientHello
      'S hs:3', // flight 2: HelloVerifyRequest
      'C hs:1', // flight 3: ClientHello with cookie
      'S hs:2 hs:14', // flight 4: ServerHello, ServerHelloDone
      'C hs:16 20@0 22@1', // flight 5: ClientKeyExchange, ChangeCipherSpec, Finished (epoch 1)
      'S 20@0 22@1', // flight 6: ChangeCipherSpec, Finished (epoch 1)
    ]);
  });

  it('exchanges the flights of an abbreviated handshake in lockstep (RFC 6347 §4.2.4 figure 2)', async () => {
    const net = new Lossy();
    assert.equal(await net.handshake(), undefined);
    net.newClient({ session: net.client.session });
    net.log.length = 0;
    assert.equal(await net.handshake(), undefined);
    const flights = net.log.map(
      (l) => `${l.dir === 'to-server' ? 'C' : 'S'} ${describeDatagram(l.d).join(' ')}`,
    );
    assert.deepEqual(flights, [
      'C hs:1', // ClientHello with the session id
      'S hs:3', // HelloVerifyRequest
      'C hs:1', // ClientHello with cookie
      'S hs:2 20@0 22@1', // ServerHello, ChangeCipherSpec, Finished
      'C 20@0 22@1', // ChangeCipherSpec, Finished
    ]);
  });

  it('keeps no state for a ClientHello without a valid cookie (RFC 6347 §4.2.1)', () => {
    const net = new Lossy();
    net.fate = (dir) => (dir === 'to-server' ? 'deliver' : 'drop');
    void net.client.connect().catch(() => {});
    net.pump();
    assert.equal(net.server.stats.helloVerifyRequestsSent, 1);
    assert.equal(net.server.handshakesInProgress, 0);
    net.client.close();
  });

  it('answers an unknown identity with unknown_psk_identity (RFC 4279 §2)', async () => {
    const net = new Lossy({}, { psk: { identity: 'nobody', key: PSK } });
    const err = (await net.handshake()) as { code?: string } | undefined;
    assert.equal(err?.code, 'DTLS_ERR_UNKNOWN_PSK_IDENTITY');
    assert.equal(net.server.stats.handshakesFailed, 1);
    assert.equal(net.server.handshakesInProgress, 0);
  });

  it('answers a wrong key with bad_record_mac (RFC 5246 §7.2.2)', async () => {
    const net = new Lossy({}, { psk: { identity: 'dev1', key: Buffer.alloc(16, 7) } });
    const err = (await net.handshake()) as { code?: string } | undefined;
    assert.equal(err?.code, 'DTLS_ERR_BAD_RECORD_MAC');
    assert.equal(net.server.stats.handshakesFailed, 1);
    assert.equal(net.server.stats.alertsSent, 1);
  });

  it('recovers from lost flights by retransmission (RFC 6347 §4.2.4)', async () => {
    const net = new Lossy();
    // Lose the HelloVerifyRequest, the first server flight and the first client Finished flight.
    net.fate = (dir, n) =>
      (dir === 'to-client' && (n === 0 || n === 1)) || (dir === 'to-server' && n === 3)
        ? 'drop'
        : 'deliver';
    assert.equal(await net.handshake(), undefined);
    assert.ok(net.log.filter((l) => l.fate === 'drop').length >= 3);
  });

  it('retransmits the last flight when the peer retransmits its own (RFC 6347 §4.2.4)', async () => {
    const net = new Lossy();
    // Lose the server's ChangeCipherSpec + Finished once: the client's timer resends flight 5,
    // and the server answers the retransmission with its last flight again.
    let lost = false;
    net.fate = (dir, _n, d) => {
      if (dir === 'to-client' && !lost && describeDatagram(d)[0] === '20@0') {
        lost = true;
        return 'drop';
      }
      return 'deliver';
    };
    assert.equal(await net.handshake(), undefined);
    assert.ok(lost);
    const finals = net.log.filter(
      (l) => l.dir === 'to-client' && describeDatagram(l.d)[0] === '20@0',
    );
    assert.equal(finals.length, 2);
  });

  it('reassembles reordered and fragmented flights (RFC 6347 §4.2.2, §4.2.3)', async () => {
    // A tiny server MTU splits its messages; its flight is delivered in reverse order. (The
    // client keeps its ClientHello whole: RFC 6347 §4.2.1, a stateless server cannot reassemble.)
    const hint = 'a-psk-identity-hint-long-enough-to-be-split-in-several-fragments'.repeat(2);
    const net = new Lossy({ mtu: 80, pskIdentityHint: hint });
    let reordered = false;
    net.fate = (dir, n) => (dir === 'to-client' && n >= 1 && n <= 4 ? 'hold' : 'deliver');
    const done = net.handshake();
    net.pump();
    if (net.held.length > 1) reordered = true;
    net.release();
    net.pump();
    assert.equal(await done, undefined);
    assert.ok(reordered);
    const fragments = net.log.filter((l) => l.dir === 'to-client').length;
    assert.ok(fragments > 4);
  });

  it('never fragments its ClientHello, even with a tiny MTU (RFC 6347 §4.2.1)', async () => {
    const net = new Lossy({}, { mtu: 60 });
    assert.equal(await net.handshake(), undefined);
    const hellos = net.log.filter(
      (l) => l.dir === 'to-server' && describeDatagram(l.d)[0] === 'hs:1',
    );
    assert.equal(hellos.length, 2);
  });

  it('ignores duplicated datagrams and delivers data once (RFC 6347 §4.1.2.6)', async () => {
    const net = new Lossy();
    assert.equal(await net.handshake(), undefined);
    net.client.send(Buffer.from('once'));
    const copy = net.queue.map((q) => ({ ...q }));
    net.queue.push(...copy);
    net.pump();
    assert.deepEqual(net.received.server, ['once']);
  });

  it('rejects a replayed record (RFC 6347 §4.1.2.6)', async () => {
    const net = new Lossy();
    assert.equal(await net.handshake(), undefined);
    net.client.send(Buffer.from('pay 10'));
    const sent = net.log[net.log.length - 1]!.d;
    net.pump();
    net.server.receive(sent, net.clientAddress, net.clientPort);
    net.server.receive(sent, net.clientAddress, net.clientPort);
    assert.deepEqual(net.received.server, ['pay 10']);
  });

  it('drops bad records silently and keeps the session (RFC 6347 §4.1.2.7)', async () => {
    const net = new Lossy();
    assert.equal(await net.handshake(), undefined);
    net.client.send(Buffer.from('x'));
    const sent = Buffer.from(net.log[net.log.length - 1]!.d);
    net.queue.length = 0;
    sent[sent.length - 1]! ^= 0xff; // a flipped tag bit
    const before = net.log.length;
    net.server.receive(sent, net.clientAddress, net.clientPort);
    net.server.receive(Buffer.from('garbage that is no record'), net.clientAddress, net.clientPort);
    net.server.receive(Buffer.alloc(0), net.clientAddress, net.clientPort);
    assert.equal(net.log.length, before, 'no alert is sent');
    assert.equal(net.server.stats.recordsDropped, 1, 'the forged record is counted');
    assert.equal(net.server.stats.alertsSent, 0);
    net.client.send(Buffer.from('y'));
    net.pump();
    assert.deepEqual(net.received.server, ['y']);
  });

  it('refuses to send more than 2^14 bytes in one record (RFC 5246 §6.2.1)', async () => {
    const net = new Lossy();
    net.client.send(Buffer.from('hi'));
    assert.equal(await net.handshake(), undefined);
    net.pump();
    assert.equal(net.server.send(net.lastPeerKey!, Buffer.alloc(16385)), false);
    assert.equal(net.server.send(net.lastPeerKey!, Buffer.alloc(16384)), true);
  });

  it('answers close_notify with close_notify and forgets the session (RFC 5246 §7.2.1)', async () => {
    const net = new Lossy();
    assert.equal(await net.handshake(), undefined);
    let closedWith: unknown = 'open';
    net.client.onClose((e) => {
      closedWith = e;
    });
    net.client.close();
    net.pump();
    assert.equal(closedWith, undefined);
    assert.equal(net.server.sessions, 0);
    assert.equal(net.server.stats.sessionsClosed, 1);
    const answers = net.log.filter((l) => l.dir === 'to-client');
    assert.deepEqual(describeDatagram(answers[answers.length - 1]!.d), ['21@1']);
  });

  it('gives up after the retransmissions are spent (RFC 6347 §4.2.4.1)', async () => {
    const net = new Lossy({ retransmit: { maxAttempts: 2 } }, { retransmit: { maxAttempts: 3 } });
    net.fate = (dir, n) => (dir === 'to-client' && n > 0 ? 'drop' : 'deliver');
    const err = (await net.handshake()) as { code?: string } | undefined;
    assert.equal(err?.code, 'DTLS_ERR_HANDSHAKE_FAILURE');
    net.advance(200_000, 5000);
    assert.equal(net.server.handshakesInProgress, 0);
    // The client's retransmitted ClientHello may start a new handshake after the first timed out.
    assert.ok(net.server.stats.handshakesStarted >= 1);
    assert.equal(net.server.stats.handshakesFailed, net.server.stats.handshakesStarted);
  });

  it('negotiates TLS_PSK_WITH_AES_128_CBC_SHA256 (RFC 5487 §3.2)', async () => {
    const net = new Lossy({}, { cipherSuites: ['TLS_PSK_WITH_AES_128_CBC_SHA256'] });
    net.client.send(Buffer.from('cbc'));
    assert.equal(await net.handshake(), undefined);
    net.pump();
    assert.equal(net.client.cipherSuite, 'TLS_PSK_WITH_AES_128_CBC_SHA256');
    assert.deepEqual(net.received.server, ['cbc']);
  });

  it('accepts a legacy client without extended master secret by default (RFC 7627 §5.2)', async () => {
    const net = new Lossy({}, { extendedMasterSecret: 'off' });
    assert.equal(await net.handshake(), undefined);
    assert.equal(net.client.session?.extendedMasterSecret, false);
  });

  it('refuses a client without extended master secret when required (RFC 7627 §5.2)', async () => {
    const net = new Lossy({ requireExtendedMasterSecret: true }, { extendedMasterSecret: 'off' });
    const err = (await net.handshake()) as { code?: string } | undefined;
    assert.equal(err?.code, 'DTLS_ERR_HANDSHAKE_FAILURE');
    const ok = new Lossy({ requireExtendedMasterSecret: true });
    assert.equal(await ok.handshake(), undefined);
  });
});
