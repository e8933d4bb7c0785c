import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { DtlsClient } from '../../src/dtls/client.js';
import { DtlsServer, type DtlsServerOptions } from '../../src/dtls/server.js';
import { ManualClock } from '../../src/util/clock.js';
import { describeDatagram, Lossy, PSK, pskStore } from './helpers.js';

/**
 * One server and several clients; the server's datagrams to a client in `stallAfterCookie` are
 * dropped after the HelloVerifyRequest, so that client's handshake stays in progress.
 */
function multi(options: Partial<DtlsServerOptions>) {
  const clock = new ManualClock(Date.now());
  const queue: (() => void)[] = [];
  const clients = new Map<number, DtlsClient>();
  const stallAfterCookie = new Set<number>();
  const sentTo = new Map<number, number>();
  const server = new DtlsServer({ pskStore, clock, ...options }, (d, _address, port) => {
    const n = sentTo.get(port) ?? 0;
    sentTo.set(port, n + 1);
    if (stallAfterCookie.has(port) && n >= 1) return;
    queue.push(() => clients.get(port)?.receive(d));
  });
  const pump = () => {
    for (let i = 0; i < 1000 && queue.length > 0; i++) queue.shift()!();
  };
  const add = (port: number, address = '10.0.0.1') => {
    const c = new DtlsClient({ psk: { identity: 'dev1', key: PSK }, clock }, (d) =>
      queue.push(() => server.receive(d, address, port)),
    );
    clients.set(port, c);
    return c;
  };
  /** Starts a handshake; the outcome is read from `state` after a tick. */
  const connect = (c: DtlsClient) => {
    const state = { done: false, error: undefined as unknown };
    c.connect().then(
      () => {
        state.done = true;
      },
      (e) => {
        state.error = e;
      },
    );
    pump();
    return state;
  };
  const close = () => {
    for (const c of clients.values()) c.close();
    server.close();
  };
  return { clock, server, add, pump, stallAfterCookie, connect, close };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('Connection ID (RFC 9146)', () => {
  it('keeps the session of a peer whose address changes (RFC 9146 §6)', async () => {
    const net = new Lossy({}, { connectionId: true });
    net.client.send(Buffer.from('a'));
    assert.equal(await net.handshake(), undefined);
    net.pump();
    const key = net.lastPeerKey!;
    const last = net.log.filter((l) => l.dir === 'to-server').pop()!;
    assert.deepEqual(
      describeDatagram(last.d),
      ['25@1'],
      'application data goes in tls12_cid records',
    );
    net.clientAddress = '192.0.2.77';
    net.clientPort = 61000;
    net.client.send(Buffer.from('b'));
    net.pump();
    assert.deepEqual(net.received.server, ['a', 'b']);
    assert.equal(net.lastPeerKey, key, 'the same session key');
    assert.equal(net.server.peer(key)?.address, '192.0.2.77');
    assert.equal(net.server.peer(key)?.port, 61000);
    assert.equal(net.server.stats.addressChanges, 1);
    assert.ok(net.server.send(key, Buffer.from('to new address')));
    net.pump();
    assert.deepEqual(net.received.client, ['to new address']);
  });

  for (const suite of [
    'TLS_PSK_WITH_AES_128_CBC_SHA256',
    'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
  ] as const) {
    it(`protects CID records with ${suite} (RFC 9146 §5)`, async () => {
      const k = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      const ecdhe = suite.startsWith('TLS_ECDHE');
      const net = new Lossy(ecdhe ? { certificate: { privateKey: k.privateKey } } : {}, {
        connectionId: true,
        cipherSuites: [suite],
        ...(ecdhe ? { psk: undefined, trust: { rawPublicKeyTrust: () => true } } : {}),
      });
      net.client.send(Buffer.from('one'));
      assert.equal(await net.handshake(), undefined);
      net.pump();
      net.clientPort = 50123;
      net.client.send(Buffer.from('two'));
      net.pump();
      assert.deepEqual(net.received.server, ['one', 'two']);
      assert.equal(net.server.stats.addressChanges, 1);
    });
  }

  it('finds the handshake by CID when the client Finished comes alone (RFC 9146 §6)', async () => {
    const net = new Lossy({}, { connectionId: true });
    // Split the client's second flight: every record in a datagram of its own.
    net.fate = (dir, _n, d) =>
      dir === 'to-server' && describeDatagram(d).length > 1 ? 'hold' : 'deliver';
    net.client.send(Buffer.from('alone'));
    const done = net.handshake();
    assert.equal(net.held.length, 1);
    const datagram = net.held.pop()!.d;
    for (let o = 0; o < datagram.length; ) {
      const cid = datagram[o] === 25 ? 6 : 0;
      const end = o + 13 + cid + datagram.readUInt16BE(o + 11 + cid);
      net.queue.push({ dir: 'to-server', d: datagram.subarray(o, end) });
      o = end;
    }
    assert.deepEqual(describeDatagram(net.queue[net.queue.length - 1]!.d), ['25@1']);
    net.pump();
    assert.equal(await done, undefined);
    net.pump();
    assert.deepEqual(net.received.server, ['alone']);
  });

  it('does not move a session for a replayed record from another address (RFC 9146 §6)', async () => {
    const net = new Lossy({}, { connectionId: true });
    net.client.send(Buffer.from('a'));
    assert.equal(await net.handshake(), undefined);
    net.pump();
    const record = net.log.filter((l) => l.dir === 'to-server').pop()!.d;
    net.server.receive(record, '203.0.113.9', 1234);
    assert.equal(net.server.stats.addressChanges, 0);
    assert.equal(net.server.peer(net.lastPeerKey!)?.address, '10.0.0.1');
    assert.deepEqual(net.received.server, ['a']);
  });

  it('without a CID, datagrams from a new address belong to no session (RFC 6347 §4.2.8)', async () => {
    const net = new Lossy();
    assert.equal(await net.handshake(), undefined);
    net.clientPort = 40001;
    net.client.send(Buffer.from('lost'));
    net.pump();
    assert.deepEqual(net.received.server, []);
    assert.equal(net.server.stats.datagramsDropped, 1);
  });
});

describe('a client that reboots (RFC 6347 §4.2.8)', () => {
  it('replaces the old association after a new cookie exchange from the same address (RFC 6347 §4.2.8)', async () => {
    const net = new Lossy();
    assert.equal(await net.handshake(), undefined);
    net.client.send(Buffer.from('old'));
    net.pump();
    const oldKey = net.lastPeerKey;
    net.newClient(); // lost its state, same address and port
    net.client.send(Buffer.from('new'));
    assert.equal(await net.handshake(), undefined);
    net.pump();
    assert.deepEqual(net.received.server, ['old', 'new']);
    assert.notEqual(net.lastPeerKey, oldKey);
    assert.equal(net.server.sessions, 1);
    assert.equal(net.server.peer(oldKey!), undefined);
    assert.equal(net.server.stats.handshakesCompleted, 2);
  });
});

describe('stale records of an earlier association (RFC 6347 §4.1, §4.1.2.7)', () => {
  /**
   * The client closes and handshakes again on the same address and port; one epoch-1 record of
   * the old association is delivered in front of every datagram of the new handshake and after it.
   */
  async function reconnectWithStale(to: 'client' | 'server', resume: boolean) {
    const net = new Lossy(resume ? {} : { limits: { sessionCacheSize: 0 } });
    assert.equal(await net.handshake(), undefined);
    net.client.send(Buffer.from('old'));
    net.pump();
    assert.ok(net.server.send(net.lastPeerKey!, Buffer.from('old')));
    net.pump();
    assert.ok(net.server.send(net.lastPeerKey!, Buffer.from('late from the server')));
    net.client.send(Buffer.from('late from the client'));
    // The two epoch-1 records are still in flight when the old association ends.
    const stale = net.queue.splice(0);
    const record = stale.find((q) => q.dir === `to-${to}`)!.d;
    assert.deepEqual(describeDatagram(record), ['23@1']);
    net.client.close();
    net.pump();
    assert.equal(net.server.sessions, 0);
    const inject = () =>
      to === 'client'
        ? net.client.receive(record)
        : net.server.receive(record, net.clientAddress, net.clientPort);
    const dropped = net.server.stats.recordsDropped;
    net.client.send(Buffer.from('new'));
    for (let i = 0; i < 500 && net.queue.length > 0; i++) {
      const { dir, d } = net.queue.shift()!;
      inject();
      if (dir === 'to-server') net.server.receive(d, net.clientAddress, net.clientPort);
      else net.client.receive(d);
    }
    inject();
    net.pump();
    return { net, dropped };
  }

  for (const resume of [false, true]) {
    const kind = resume ? 'an abbreviated' : 'a full';
    it(`a client drops an old-epoch record that arrives during and after ${kind} new handshake (RFC 6347 §4.1.2.7)`, async () => {
      const { net } = await reconnectWithStale('client', resume);
      assert.ok(net.client.established, 'the new association is up');
      assert.equal(net.client.lastError, undefined);
      assert.equal(net.client.resumed, resume);
      assert.deepEqual(net.received.client, ['old']);
      assert.deepEqual(net.received.server, ['old', 'new']);
      assert.ok(net.server.send(net.lastPeerKey!, Buffer.from('fresh')));
      net.pump();
      assert.deepEqual(net.received.client, ['old', 'fresh']);
    });

    it(`a server drops an old-epoch record that arrives during and after ${kind} new handshake (RFC 6347 §4.1.2.7)`, async () => {
      const { net, dropped } = await reconnectWithStale('server', resume);
      assert.ok(net.client.established, 'the new association is up');
      assert.deepEqual(net.received.server, ['old', 'new']);
      assert.equal(net.server.sessions, 1);
      assert.equal(net.server.stats.handshakesFailed, 0);
      assert.ok(net.server.stats.recordsDropped > dropped, 'the stale records are counted');
    });
  }
});

describe('session resumption (RFC 5246 §7.3)', () => {
  it('resumes a session by its id with an abbreviated handshake (RFC 5246 §7.3)', async () => {
    const net = new Lossy();
    assert.equal(await net.handshake(), undefined);
    const session = net.client.session!;
    net.client.close();
    net.pump();
    net.newClient({ session });
    net.client.send(Buffer.from('again'));
    assert.equal(await net.handshake(), undefined);
    net.pump();
    assert.equal(net.server.stats.sessionsResumed, 1);
    assert.equal(net.server.stats.handshakesCompleted, 1);
    assert.deepEqual(net.received.server, ['again']);
    assert.deepEqual(net.lastPeer?.identity, { kind: 'psk', identity: 'dev1' });
    assert.deepEqual(net.client.session?.id, session.id);
  });

  it('a closed client handshakes again on its next send and resumes its session (RFC 5246 §7.3)', async () => {
    const net = new Lossy();
    assert.equal(await net.handshake(), undefined);
    net.client.close();
    net.pump();
    assert.equal(net.server.sessions, 0);
    net.client.send(Buffer.from('back'));
    net.pump();
    assert.ok(net.client.established);
    assert.ok(net.client.resumed);
    net.pump();
    assert.deepEqual(net.received.server, ['back']);
    assert.equal(net.server.stats.sessionsResumed, 1);
  });

  it('falls back to a full handshake for an unknown session id (RFC 5246 §7.4.1.3)', async () => {
    const first = new Lossy();
    assert.equal(await first.handshake(), undefined);
    const net = new Lossy({}, { session: first.client.session });
    assert.equal(await net.handshake(), undefined);
    assert.equal(net.server.stats.sessionsResumed, 0);
    assert.equal(net.server.stats.handshakesCompleted, 1);
    assert.notDeepEqual(net.client.session?.id, first.client.session?.id);
  });

  it('neither keeps nor resumes the sessions of a revoked identity (RFC 5246 §7.3)', async () => {
    const net = new Lossy();
    assert.equal(await net.handshake(), undefined);
    const session = net.client.session!;
    const closed = net.server.revoke((id) => id?.kind === 'psk' && id.identity === 'dev1');
    net.pump();
    assert.equal(closed, 1);
    assert.equal(net.server.sessions, 0);
    net.newClient({ session });
    assert.equal(await net.handshake(), undefined);
    assert.equal(net.server.stats.sessionsResumed, 0, 'a full handshake checks the PSK again');
  });

  it('does not resume a session older than sessionLifetimeMs (RFC 5246 §F.1.4)', async () => {
    const net = new Lossy({ limits: { sessionLifetimeMs: 60_000 } });
    assert.equal(await net.handshake(), undefined);
    const session = net.client.session!;
    net.clock.advance(61_000);
    net.newClient({ session });
    assert.equal(await net.handshake(), undefined);
    assert.equal(net.server.stats.sessionsResumed, 0);
    assert.equal(net.server.stats.handshakesCompleted, 2);
  });

  it('does not resume a session without extended master secret from an EMS hello (RFC 7627 §5.3)', async () => {
    const net = new Lossy({}, { extendedMasterSecret: 'off' });
    assert.equal(await net.handshake(), undefined);
    const session = net.client.session!;
    assert.equal(session.extendedMasterSecret, false);
    net.newClient({ session });
    assert.equal(await net.handshake(), undefined);
    assert.equal(net.server.stats.sessionsResumed, 0);
    assert.equal(net.server.stats.handshakesCompleted, 2);
    assert.equal(net.client.session?.extendedMasterSecret, true);
  });

  it('resumes across a lost server flight (RFC 6347 §4.2.4)', async () => {
    const net = new Lossy();
    assert.equal(await net.handshake(), undefined);
    const session = net.client.session!;
    net.newClient({ session });
    const start = net.counts['to-client'];
    net.fate = (dir, n) => (dir === 'to-client' && n === start + 1 ? 'drop' : 'deliver');
    assert.equal(await net.handshake(), undefined);
    assert.equal(net.server.stats.sessionsResumed, 1);
  });
});

describe('server limits and counters', () => {
  it('refuses handshakes beyond maxHandshakesPerSource (issue 5 limits)', async () => {
    const m = multi({ limits: { maxHandshakesPerSource: 1 } });
    m.stallAfterCookie.add(1).add(2);
    m.connect(m.add(1));
    const b = m.connect(m.add(2));
    const c = m.connect(m.add(3, '10.9.9.9'));
    await tick();
    assert.equal(m.server.handshakesInProgress, 1);
    assert.equal(m.server.stats.handshakesRejected, 1);
    assert.equal(b.done, false);
    assert.equal(c.done, true, 'another source is not limited');
    m.close();
  });

  it('refuses handshakes beyond maxHandshakes in total (issue 5 limits)', async () => {
    const m = multi({ limits: { maxHandshakes: 1 } });
    m.stallAfterCookie.add(1);
    m.connect(m.add(1, '10.0.0.1'));
    const b = m.connect(m.add(2, '10.0.0.2'));
    await tick();
    assert.equal(m.server.handshakesInProgress, 1);
    assert.equal(m.server.stats.handshakesRejected, 1);
    assert.equal(b.done, false);
    m.close();
  });

  it('refuses new sessions beyond maxSessions (issue 5 limits)', async () => {
    const m = multi({ limits: { maxSessions: 1 } });
    const a = m.connect(m.add(1));
    const b = m.connect(m.add(2));
    await tick();
    assert.equal(a.done, true);
    assert.equal(b.done, false);
    assert.equal(m.server.sessions, 1);
    assert.equal(m.server.stats.handshakesRejected, 1);
    m.close();
  });

  it('evicts idle sessions with close_notify after idleTimeoutMs (issue 5 limits, RFC 5246 §7.2.1)', async () => {
    const net = new Lossy({ limits: { idleTimeoutMs: 10_000 } });
    assert.equal(await net.handshake(), undefined);
    let closed = false;
    net.client.onClose(() => {
      closed = true;
    });
    net.advance(5_000, 1000);
    assert.equal(net.server.sessions, 1);
    net.advance(60_000, 1000);
    assert.equal(net.server.sessions, 0);
    assert.equal(net.server.stats.sessionsEvicted, 1);
    assert.ok(closed, 'the client heard close_notify');
  });

  it('tells the application when a session starts and ends (issue 5 sessions)', async () => {
    const events: string[] = [];
    const net = new Lossy({
      onSessionEstablished: (peer) =>
        events.push(`up ${peer.identity?.kind === 'psk' && peer.identity.identity}`),
      onSessionClosed: (peer, error) =>
        events.push(`down ${peer.key === net.lastPeerKey} ${error?.code}`),
    });
    net.client.send(Buffer.from('x'));
    assert.equal(await net.handshake(), undefined);
    net.pump();
    net.client.close();
    net.pump();
    assert.deepEqual(events, ['up dev1', 'down true undefined']);
  });

  it('counts completed, failed and cookie-verified handshakes in stats (issue 5 metrics)', async () => {
    const ok = new Lossy();
    assert.equal(await ok.handshake(), undefined);
    assert.equal(ok.server.stats.handshakesStarted, 1);
    assert.equal(ok.server.stats.handshakesCompleted, 1);
    assert.equal(ok.server.stats.helloVerifyRequestsSent, 1);
    assert.equal(ok.server.stats.handshakesFailed, 0);
  });
});
