import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serializeFragment } from '../../src/dtls/handshake/fragment.js';
import { serializeRecord } from '../../src/dtls/record/record.js';
import { DtlsServer } from '../../src/dtls/server.js';
import { ManualClock } from '../../src/util/clock.js';
import { Lossy, pskStore } from './helpers.js';

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(d: Buffer, rnd: () => number): Buffer {
  const out = Buffer.from(d);
  const kind = Math.floor(rnd() * 4);
  if (kind === 0) return out.subarray(0, Math.floor(rnd() * out.length));
  if (kind === 1) {
    for (let i = 0; i < 1 + rnd() * 4; i++)
      out[Math.floor(rnd() * out.length)] = Math.floor(rnd() * 256);
    return out;
  }
  if (kind === 2) {
    // Corrupt a length field of the record or handshake header.
    const at = [11, 12, 14, 15, 16, 22, 23, 24][Math.floor(rnd() * 8)]!;
    if (at < out.length) out[at] = Math.floor(rnd() * 256);
    return out;
  }
  return Buffer.concat([out, out.subarray(0, Math.floor(rnd() * out.length))]);
}

describe('hostile input (DESIGN: a bad packet costs its sender)', () => {
  it('survives mutated handshake datagrams without throwing and keeps its session (RFC 6347 §4.1.2.7)', async () => {
    // Record one good handshake, then replay mutated copies of every datagram to both sides.
    const good = new Lossy();
    assert.equal(await good.handshake(), undefined);
    const rnd = prng(6347);
    const clock = new ManualClock(Date.now());
    const server = new DtlsServer({ pskStore, clock }, () => {});
    for (let i = 0; i < 3000; i++) {
      const entry = good.log[i % good.log.length]!;
      const d = mutate(entry.d, rnd);
      assert.doesNotThrow(() => server.receive(d, '10.0.0.1', 1000 + (i % 7)));
      assert.doesNotThrow(() => good.client.receive(d));
      assert.doesNotThrow(() => good.server.receive(d, good.clientAddress, good.clientPort));
    }
    server.close();
    // The established session of the good pair is untouched by the noise.
    good.queue.length = 0;
    good.client.send(Buffer.from('still here'));
    good.pump();
    assert.ok(good.received.server.includes('still here'));
  });

  it('ignores a forged plaintext handshake message sent to an established session (RFC 6347 §4.1.2.7)', async () => {
    const net = new Lossy();
    assert.equal(await net.handshake(), undefined);
    // An epoch-0 Finished with the next message_seq both sides would expect (4), from the client's address.
    const body = Buffer.alloc(12);
    const forged = serializeRecord({
      type: 22,
      version: 0xfefd,
      epoch: 0,
      seq: 999,
      fragment: serializeFragment({
        msgType: 20,
        length: 12,
        messageSeq: 4,
        fragmentOffset: 0,
        fragment: body,
      }),
    });
    const sent = net.log.length;
    net.server.receive(forged, net.clientAddress, net.clientPort);
    net.client.receive(forged);
    assert.equal(net.log.length, sent, 'no alert');
    net.client.send(Buffer.from('alive'));
    net.pump();
    assert.deepEqual(net.received.server, ['alive']);
  });

  it('drops random datagrams without state or answers (RFC 6347 §4.1.2.7)', () => {
    const rnd = prng(9146);
    const sent: Buffer[] = [];
    const server = new DtlsServer({ pskStore, clock: new ManualClock() }, (d) => sent.push(d));
    for (let i = 0; i < 2000; i++) {
      const d = Buffer.alloc(Math.floor(rnd() * 200));
      for (let j = 0; j < d.length; j++) d[j] = Math.floor(rnd() * 256);
      if (i % 2 === 0 && d.length > 0) d[0] = 22; // looks like a handshake record
      server.receive(d, '10.0.0.2', 2000);
    }
    assert.equal(server.handshakesInProgress, 0);
    assert.equal(server.sessions, 0);
    assert.equal(sent.length, 0);
    server.close();
  });
});
