import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuthThrottle } from '../../src/hub/auth-throttle.js';
import { ManualClock } from '../../src/util/clock.js';

test('a source is locked out after its free failures, for doubling times', () => {
  const clock = new ManualClock();
  const throttle = new AuthThrottle(clock, { freeFailures: 3, baseLockMs: 1000, maxLockMs: 4000 });
  for (let i = 0; i < 3; i++) {
    assert.equal(throttle.lockedFor('10.0.0.1'), 0);
    throttle.failed('10.0.0.1');
  }
  assert.equal(throttle.lockedFor('10.0.0.1'), 0, 'three free failures');
  throttle.failed('10.0.0.1');
  assert.equal(throttle.lockedFor('10.0.0.1'), 1000);
  assert.equal(throttle.lockedFor('10.0.0.2'), 0, 'other sources are not affected');
  clock.advance(1000);
  throttle.failed('10.0.0.1');
  assert.equal(throttle.lockedFor('10.0.0.1'), 2000);
  clock.advance(2000);
  throttle.failed('10.0.0.1');
  throttle.failed('10.0.0.1');
  assert.equal(throttle.lockedFor('10.0.0.1'), 4000, 'capped at maxLockMs');
  assert.equal(throttle.refused, 3);
});

test('a success or a long quiet time forgets the failures', () => {
  const clock = new ManualClock();
  const throttle = new AuthThrottle(clock, { freeFailures: 1, forgetAfterMs: 60_000 });
  throttle.failed('a');
  throttle.failed('a');
  assert.ok(throttle.lockedFor('a') > 0);
  throttle.succeeded('a');
  assert.equal(throttle.lockedFor('a'), 0);
  throttle.failed('b');
  throttle.failed('b');
  clock.advance(60_001);
  assert.equal(throttle.lockedFor('b'), 0);
  assert.equal(throttle.tracked, 0);
});

test('memory stays bounded: the least recently failed sources are forgotten first', () => {
  const throttle = new AuthThrottle(new ManualClock(), { maxSources: 100 });
  for (let i = 0; i < 1000; i++) throttle.failed(`10.0.${i >> 8}.${i & 255}`);
  assert.equal(throttle.tracked, 100);
});
