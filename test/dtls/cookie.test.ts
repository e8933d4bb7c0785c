import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CookieJar } from '../../src/dtls/cookie.js';
import type { ClientHello } from '../../src/dtls/handshake/client-hello.js';
import { ManualClock } from '../../src/util/clock.js';
import { describeDatagram, Lossy } from './helpers.js';

const hello = (over: Partial<ClientHello> = {}): ClientHello => ({
  clientVersion: 0xfefd,
  random: Buffer.alloc(32, 5),
  sessionId: Buffer.alloc(0),
  cookie: Buffer.alloc(0),
  cipherSuites: [0xc0a8],
  compressionMethods: Buffer.from([0]),
  extensions: [],
  ...over,
});

describe('stateless cookies (RFC 6347 §4.2.1)', () => {
  it('binds the cookie to the client address and port (RFC 6347 §4.2.1)', () => {
    const jar = new CookieJar(new ManualClock());
    const cookie = jar.make('10.0.0.1', 1000, hello());
    assert.equal(cookie.length, 32);
    assert.ok(jar.verify('10.0.0.1', 1000, hello({ cookie })));
    assert.equal(jar.verify('10.0.0.2', 1000, hello({ cookie })), false);
    assert.equal(jar.verify('10.0.0.1', 1001, hello({ cookie })), false);
  });

  it('binds the cookie to the ClientHello parameters (RFC 6347 §4.2.1)', () => {
    const jar = new CookieJar(new ManualClock());
    const cookie = jar.make('10.0.0.1', 1000, hello());
    assert.equal(
      jar.verify('10.0.0.1', 1000, hello({ cookie, random: Buffer.alloc(32, 6) })),
      false,
    );
    assert.equal(jar.verify('10.0.0.1', 1000, hello({ cookie, cipherSuites: [0x00ae] })), false);
  });

  it('accepts a cookie of the previous secret, not of the one before (RFC 6347 §4.2.1)', () => {
    const clock = new ManualClock();
    const jar = new CookieJar(clock, 1000);
    const cookie = jar.make('10.0.0.1', 1000, hello());
    clock.advance(1500);
    assert.ok(jar.verify('10.0.0.1', 1000, hello({ cookie })));
    clock.advance(1500);
    assert.equal(jar.verify('10.0.0.1', 1000, hello({ cookie })), false);
  });

  it('answers a ClientHello with a forged cookie with another HelloVerifyRequest, keeping no state (RFC 6347 §4.2.1)', () => {
    const net = new Lossy();
    net.fate = (dir, n, d) => {
      if (dir === 'to-server' && n === 1) {
        // Corrupt the last byte of the cookie of the second ClientHello: 13 record header +
        // 12 handshake header + 2 version + 32 random + 1 session id length + 1 cookie length.
        const forged = Buffer.from(d);
        forged[13 + 12 + 2 + 32 + 1 + 1 + 31]! ^= 1;
        net.server.receive(forged, net.clientAddress, net.clientPort);
        return 'drop';
      }
      return 'deliver';
    };
    void net.client.connect().catch(() => {});
    net.pump();
    assert.equal(net.server.stats.helloVerifyRequestsSent, 2);
    const answers = net.log.filter((l) => l.dir === 'to-client').map((l) => describeDatagram(l.d));
    assert.deepEqual(answers.slice(0, 2), [['hs:3'], ['hs:3']]);
    // The client answers the second HelloVerifyRequest too, and the handshake then completes.
    assert.equal(net.server.stats.handshakesCompleted, 1);
    net.client.close();
  });

  it('uses the record sequence number of the ClientHello for the HelloVerifyRequest (RFC 6347 §4.2.1)', () => {
    const net = new Lossy();
    void net.client.connect().catch(() => {});
    net.pump();
    const ch = net.log.find((l) => l.dir === 'to-server')!.d;
    const hvr = net.log.find((l) => l.dir === 'to-client')!.d;
    assert.deepEqual(hvr.subarray(5, 11), ch.subarray(5, 11));
    assert.equal(hvr.readUInt16BE(1), 0xfeff, 'DTLS 1.0 version on the HelloVerifyRequest');
    net.client.close();
  });
});
