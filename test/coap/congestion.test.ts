import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CongestionControl, type Slot } from '../../src/coap/congestion.js';
import { Deduplicator } from '../../src/coap/dedup.js';
import { MessageIdProvider } from '../../src/coap/message-id.js';
import { defaultTransmissionParameters } from '../../src/coap/parameters.js';
import { ManualClock } from '../../src/util/clock.js';

describe('Congestion control, deduplication and message IDs (RFC 7252 §4.4, §4.5, §4.7)', () => {
  test('runs NSTART interactions at once per peer and the rest in order (RFC 7252 §4.7)', () => {
    const cc = new CongestionControl(new ManualClock(), {
      ...defaultTransmissionParameters,
      nstart: 2,
    });
    const started: string[] = [];
    const slots: Slot[] = [];
    for (const name of ['a', 'b', 'c', 'd']) {
      cc.schedule('p', false, 10, (slot) => {
        started.push(name);
        slots.push(slot);
      });
    }
    assert.deepEqual(started, ['a', 'b']);
    slots[1]!.release();
    slots[1]!.release(); // twice is once
    assert.deepEqual(started, ['a', 'b', 'c']);
    slots[0]!.release();
    assert.deepEqual(started, ['a', 'b', 'c', 'd']);
    slots[2]!.release();
    slots[3]!.release();
    assert.equal(cc.peers, 0, 'idle peers leave no state');
  });

  test('drops a queued interaction that is cancelled before it starts (RFC 7252 §4.7)', () => {
    const cc = new CongestionControl(new ManualClock(), defaultTransmissionParameters);
    const started: string[] = [];
    let first: Slot | undefined;
    cc.schedule('p', false, 10, (s) => {
      started.push('a');
      first = s;
    });
    const cancel = cc.schedule('p', false, 10, () => started.push('b'));
    cc.schedule('p', false, 10, () => started.push('c'));
    cancel();
    first!.release();
    assert.deepEqual(started, ['a', 'c']);
  });

  test('paces NONs to a silent peer at PROBING_RATE and stops pacing once it is heard (RFC 7252 §4.7)', () => {
    const clock = new ManualClock();
    const cc = new CongestionControl(clock, defaultTransmissionParameters);
    const started: string[] = [];
    cc.schedule('p', true, 20, (s) => {
      started.push('a');
      s.release();
    });
    cc.schedule('p', true, 20, (s) => {
      started.push('b');
      s.release();
    });
    cc.schedule('p', true, 20, (s) => {
      started.push('c');
      s.release();
    });
    assert.deepEqual(started, ['a']);
    clock.advance(19_999);
    assert.deepEqual(started, ['a']);
    clock.advance(1);
    assert.deepEqual(started, ['a', 'b']);
    cc.heard('p');
    assert.deepEqual(started, ['a', 'b', 'c']);
  });

  test('remembers message IDs per peer for EXCHANGE_LIFETIME, within a bound (RFC 7252 §4.5)', () => {
    const clock = new ManualClock();
    const d = new Deduplicator(clock, 247_000, 3);
    assert.equal(d.seen('p', 1), undefined);
    d.setReply('p', 1, Buffer.from('r'));
    assert.deepEqual(d.seen('p', 1), Buffer.from('r'));
    assert.equal(d.seen('q', 1), undefined);
    assert.equal(d.seen('p', 2), undefined);
    assert.equal(d.seen('p', 3), undefined, 'the oldest entry makes room');
    assert.equal(d.size, 3);
    assert.equal(d.seen('p', 1), undefined, 'p#1 was evicted');
    clock.advance(247_000);
    d.prune();
    assert.equal(d.size, 0);
  });

  test('replays an empty ACK byte for byte, and expires entries in arrival order (RFC 7252 §4.5)', () => {
    const clock = new ManualClock();
    const d = new Deduplicator(clock, 247_000, 1000);
    // More entries than the ring starts with, so that it grows while keeping arrival order.
    for (let id = 0; id < 200; id++) {
      assert.equal(d.seen('p', id), undefined);
      if (id % 2 === 0) d.setReply('p', id, Buffer.from([0x60, 0, id >> 8, id & 0xff]));
      if (id === 99) clock.advance(1000);
    }
    assert.deepEqual(d.seen('p', 0x42), Buffer.from([0x60, 0, 0, 0x42]));
    assert.equal(d.seen('p', 0x43), null, 'seen, not answered yet');
    assert.equal(d.replyBytes, 0, 'empty ACKs take no reply bytes');
    clock.advance(246_000);
    d.prune();
    assert.equal(d.size, 100, 'the first hundred are a lifetime old');
    assert.equal(d.seen('p', 151), null);
    assert.equal(d.seen('p', 50), undefined);
  });

  test('bounds the bytes of cached replies, forgetting the oldest first (RFC 7252 §4.5)', () => {
    const d = new Deduplicator(new ManualClock(), 247_000, 100, 10);
    d.seen('p', 1);
    d.setReply('p', 1, Buffer.alloc(6));
    d.seen('p', 2);
    d.setReply('p', 2, Buffer.alloc(6));
    assert.equal(d.size, 1);
    assert.equal(d.replyBytes, 6);
    assert.equal(d.seen('p', 1), undefined, 'p#1 made room for p#2');
  });

  test('forgets an idle peer message-ID counter after EXCHANGE_LIFETIME (RFC 7252 §4.4)', () => {
    const clock = new ManualClock();
    let r = 0;
    const ids = new MessageIdProvider(clock, 247_000, () => [0, 0.5][r++] ?? 0);
    assert.equal(ids.next('p'), 0);
    assert.equal(ids.next('p'), 1);
    clock.advance(247_000);
    assert.equal(ids.next('q'), 0x8000);
    assert.equal(ids.size, 1);
  });
});
