import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  driftStep,
  FleetOptionsError,
  PROFILES,
  packageVersion,
  resolveOptions,
  SimScheduler,
  seededRandom,
} from '../../src/sim/index.js';

describe('sensor drift', () => {
  test('a walk stays within the sensor range and moves a little at a time', () => {
    const random = seededRandom(1);
    const p = PROFILES.temperature;
    let deviation = 0;
    let last: number | undefined;
    let biggestStep = 0;
    for (let i = 0; i < 10_000; i++) {
      const r = driftStep(p, deviation, 0.3, i * 5, 5, 3600, random);
      deviation = r.deviation;
      assert.ok(r.value >= p.min && r.value <= p.max);
      if (last !== undefined) biggestStep = Math.max(biggestStep, Math.abs(r.value - last));
      last = r.value;
    }
    // Steps of a few tenths of a degree, not jumps across the range as uniform noise would.
    assert.ok(biggestStep < 3, `biggest step ${biggestStep}`);
  });

  test('the walk returns to the cycle: its long-run mean is the profile mean', () => {
    const random = seededRandom(2);
    const p = PROFILES.pressure;
    let deviation = 5000;
    let sum = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const r = driftStep(p, deviation, 0, i * 5, 5, 3600, random);
      deviation = r.deviation;
      sum += r.value;
    }
    assert.ok(Math.abs(sum / n - p.mean) < 100, `mean ${sum / n}`);
  });

  test('devices with different phases are at different points of the cycle', () => {
    const still = () => 0.5;
    const p = { ...PROFILES.temperature, sigma: 0 };
    const a = driftStep(p, 0, 0, 900, 1, 3600, still).value;
    const b = driftStep(p, 0, Math.PI, 900, 1, 3600, still).value;
    assert.equal(a, 24);
    assert.equal(b, 18);
  });

  test('a seeded run repeats', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    for (let i = 0; i < 100; i++) assert.equal(a(), b());
  });
});

describe('firmware package versions', () => {
  test('a version= tag, else the last dotted number of the name, else the next patch', () => {
    assert.equal(packageVersion('TANDEM-FW version=3.1-rc1\n', '1.0.0'), '3.1-rc1');
    assert.equal(packageVersion('/fw/v2/sensor-2.4.1.bin', '1.0.0'), '2.4.1');
    assert.equal(packageVersion('/fw/latest.bin', '1.0.9'), '1.0.10');
    assert.equal(packageVersion('/fw/latest.bin', 'beta'), 'beta.1');
  });
});

describe('the fleet scheduler', () => {
  test('one-off tasks run in time order on the ticks, cancelled ones not', async () => {
    const scheduler = new SimScheduler(5);
    const ran: string[] = [];
    scheduler.after(30, () => ran.push('c'));
    scheduler.after(10, () => ran.push('a'));
    const cancelled = scheduler.after(15, () => ran.push('x'));
    scheduler.after(20, () => ran.push('b'));
    scheduler.cancel(cancelled);
    scheduler.start();
    await new Promise((r) => setTimeout(r, 120));
    scheduler.stop();
    assert.deepEqual(ran, ['a', 'b', 'c']);
  });
});

describe('fleet options', () => {
  test('coaps needs a PSK prefix and key', () => {
    assert.throws(
      () => resolveOptions({ lwm2m: 1, mqtt: 0, lwm2mUrl: 'coaps://127.0.0.1:5684' }),
      FleetOptionsError,
    );
  });

  test('URLs are checked by scheme', () => {
    assert.throws(
      () => resolveOptions({ lwm2m: 1, mqtt: 0, lwm2mUrl: 'http://127.0.0.1' }),
      /--lwm2m-url must be coap:\/\/ or coaps:\/\//,
    );
  });

  test('queue mode raises a lifetime shorter than a sleep, so the registration never lapses asleep', () => {
    const o = resolveOptions({
      lwm2m: 1,
      mqtt: 0,
      queueMode: true,
      sleepSeconds: 600,
      lifetime: 60,
    });
    assert.ok(o.lifetime * 0.9 > o.sleepSeconds + o.awakeSeconds);
  });
});
