import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DeadlineSweep, type Expiring } from '../../src/mqtt/deadlines.js';
import { ManualClock } from '../../src/util/clock.js';

/** A connection stand-in: due `idleMs` after its last activity, closed once expired. */
class Item implements Expiring {
  expiredAt: number | undefined;
  constructor(
    private readonly clock: ManualClock,
    public lastActivity: number,
    private readonly idleMs: number,
  ) {}
  deadline(): number | undefined {
    return this.expiredAt === undefined ? this.lastActivity + this.idleMs : undefined;
  }
  expire(): void {
    this.expiredAt = this.clock.now();
  }
}

describe('deadline sweep (one timer for every connection)', () => {
  test('expires an item exactly at its deadline, not before', () => {
    const clock = new ManualClock();
    const items = new Set<Item>();
    const sweep = new DeadlineSweep(clock, items);
    const item = new Item(clock, clock.now(), 7_500);
    items.add(item);
    sweep.schedule(clock.now() + 7_500);
    clock.advance(7_499);
    assert.equal(item.expiredAt, undefined);
    clock.advance(1);
    assert.equal(item.expiredAt, clock.now());
    assert.equal(clock.pending, 0, 'nothing left to wait for');
  });

  test('follows a deadline that moved later with activity, and keeps a single timer', () => {
    const clock = new ManualClock();
    const items = new Set<Item>();
    const sweep = new DeadlineSweep(clock, items);
    const start = clock.now();
    const a = new Item(clock, start, 15_000);
    const b = new Item(clock, start, 15_000);
    items.add(a).add(b);
    sweep.schedule(start + 15_000);
    sweep.schedule(start + 15_000);
    assert.equal(clock.pending, 1);
    clock.advance(14_000);
    a.lastActivity = clock.now(); // a PINGREQ
    clock.advance(1_000);
    assert.equal(b.expiredAt, start + 15_000);
    assert.equal(a.expiredAt, undefined);
    assert.equal(clock.pending, 1);
    clock.advance(13_999);
    assert.equal(a.expiredAt, undefined);
    clock.advance(1);
    assert.equal(a.expiredAt, start + 29_000);
  });

  test('an earlier deadline re-arms the timer; sweeps stay at least a second apart', () => {
    const clock = new ManualClock();
    const items = new Set<Item>();
    const sweep = new DeadlineSweep(clock, items);
    const start = clock.now();
    const slow = new Item(clock, start, 10_000);
    items.add(slow);
    sweep.schedule(start + 10_000);
    const fast = new Item(clock, start, 2_000);
    items.add(fast);
    sweep.schedule(start + 2_000);
    clock.advance(2_000);
    assert.equal(fast.expiredAt, start + 2_000);
    // Due 100 ms after that sweep: it waits for the next one, a second after the last.
    const soon = new Item(clock, clock.now(), 100);
    items.add(soon);
    sweep.schedule(clock.now() + 100);
    clock.advance(999);
    assert.equal(soon.expiredAt, undefined);
    clock.advance(1);
    assert.equal(soon.expiredAt, start + 3_000);
    clock.advance(7_000);
    assert.equal(slow.expiredAt, start + 10_000);
  });

  test('stop() disarms it for good', () => {
    const clock = new ManualClock();
    const items = new Set<Item>();
    const sweep = new DeadlineSweep(clock, items);
    const item = new Item(clock, clock.now(), 1_000);
    items.add(item);
    sweep.schedule(clock.now() + 1_000);
    sweep.stop();
    sweep.schedule(clock.now() + 1_000);
    assert.equal(clock.pending, 0);
    clock.advance(5_000);
    assert.equal(item.expiredAt, undefined);
  });
});
