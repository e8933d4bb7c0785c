import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startTandemAndFleet, until } from './helpers.js';

describe('fleet simulator at scale', () => {
  test('1,000 LwM2M devices in one process register against one Tandem, each from its own socket', async (t) => {
    const { tandem, fleet } = await startTandemAndFleet(t, {
      lwm2m: 1000,
      mqtt: 0,
      rate: 1000,
      // Measurements at the default pace: this test is about registration.
      measureSeconds: 5,
    });
    let registered = 0;
    tandem.lwm2m.server.on('registered', () => registered++);
    await until('1,000 registrations', () => fleet.counters.lwm2mRegistered === 1000, 110_000);
    const regs = await tandem.lwm2m.server.registrations();
    const sim = regs.filter((r) => r.endpoint.startsWith('sim-'));
    assert.equal(sim.length, 1000);
    assert.equal(new Set(sim.map((r) => r.peer.key)).size, 1000, 'one peer per device');
    assert.ok(registered <= 1000);
    const summary = await fleet.stop();
    assert.equal(summary.lwm2m.deregistrations, 1000);
  });
});
