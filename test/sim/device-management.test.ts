import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import { Code } from '../../src/coap/code.js';
import type { Lwm2mSingleResource } from '../../src/lwm2m/node/lwm2m-node.js';
import { singleResource } from '../../src/lwm2m/node/lwm2m-node.js';
import { Value } from '../../src/lwm2m/node/lwm2m-value.js';
import type { Registration } from '../../src/lwm2m/server/registration.js';
import type { Tandem } from '../../src/server/tandem.js';
import { names, registeredCount, startTandemAndFleet, until } from './helpers.js';

async function readValue(tandem: Tandem, ep: string, path: string): Promise<unknown> {
  const r = await tandem.lwm2m.server.read(ep, { path });
  assert.equal(r.code, Code.Content, `read ${ep} ${path}`);
  return (r.content as Lwm2mSingleResource).value.value;
}

/** A Tandem and `count` simulated LwM2M devices, all registered. */
async function fleetOf(t: TestContext, count: number, extra = {}) {
  const { tandem, fleet } = await startTandemAndFleet(t, { lwm2m: count, mqtt: 0, ...extra });
  await until(
    `${count} registrations`,
    async () => (await registeredCount(tandem, names('sim-', 0, count))) === count,
  );
  return { tandem, fleet };
}

/** Polls a resource until `check` holds; the last value. */
async function readUntil(
  tandem: Tandem,
  ep: string,
  path: string,
  what: string,
  check: (v: unknown) => boolean,
) {
  let value: unknown;
  await until(what, async () => {
    value = await readValue(tandem, ep, path);
    return check(value);
  });
  return value;
}

describe('simulated LwM2M devices', () => {
  test('sensor values drift between two reads and stay within the sensor range', async (t) => {
    const { tandem } = await fleetOf(t, 3);
    for (const [path, min, max] of [
      ['/3303/0/5700', -40, 85],
      ['/3323/0/5700', 87_000, 108_500],
      ['/3202/0/5600', 0, 10],
    ] as const) {
      const first = (await readValue(tandem, 'sim-1', path)) as number;
      const later = (await readUntil(
        tandem,
        'sim-1',
        path,
        `${path} to move`,
        (v) => v !== first,
      )) as number;
      for (const v of [first, later])
        assert.ok(v >= min && v <= max, `${path} = ${v} within ${min}..${max}`);
    }
    // A walk, not noise: one step of the temperature is small against its range.
    const a = (await readValue(tandem, 'sim-2', '/3303/0/5700')) as number;
    const b = (await readUntil(
      tandem,
      'sim-2',
      '/3303/0/5700',
      'a step',
      (v) => v !== a,
    )) as number;
    assert.ok(Math.abs(a - b) < 5, `step ${a} → ${b}`);
  });

  test('a write to the Analog Output value (/3203/0/5650) sticks; one out of range is refused', async (t) => {
    const { tandem } = await fleetOf(t, 2);
    const server = tandem.lwm2m.server;
    const w = await server.write('sim-0', {
      path: '/3203/0/5650',
      mode: 'replace',
      content: singleResource(5650, Value.float(7.5)),
    });
    assert.equal(w.code, Code.Changed);
    assert.equal(await readValue(tandem, 'sim-0', '/3203/0/5650'), 7.5);
    const bad = await server.write('sim-0', {
      path: '/3203/0/5650',
      mode: 'replace',
      content: singleResource(5650, Value.float(42)),
    });
    assert.equal(bad.code, Code.BadRequest);
    assert.equal(await readValue(tandem, 'sim-0', '/3203/0/5650'), 7.5);
    assert.equal(
      await readValue(tandem, 'sim-1', '/3203/0/5650'),
      0,
      'the other device is untouched',
    );
  });

  test('Reboot (/3/0/4) answers 2.04, then the device de-registers and registers again (LwM2M 1.0 Appendix E.4)', async (t) => {
    const { tandem, fleet } = await fleetOf(t, 3);
    const server = tandem.lwm2m.server;
    const events: string[] = [];
    server.on('deregistered', (r: Registration) => {
      if (r.endpoint === 'sim-1') events.push('deregistered');
    });
    server.on('registered', (e) => {
      if (e.registration.endpoint === 'sim-1') events.push('registered');
    });
    const before = await server.getRegistration('sim-1');
    const answer = await server.execute('sim-1', { path: '/3/0/4' });
    assert.equal(answer.code, Code.Changed);
    await until('de-register then register', () => events.length >= 2);
    assert.deepEqual(events.slice(0, 2), ['deregistered', 'registered']);
    const after = await server.getRegistration('sim-1');
    assert.notEqual(after!.id, before!.id, 'a new registration');
    assert.notEqual(
      after!.peer.port,
      before!.peer.port,
      'from a new socket, as after a real reboot',
    );
    assert.equal(fleet.counters.reboots, 1);
  });

  test('firmware update by pull: Downloading → Downloaded → Updating → Idle with Update Result 1 and a new /3/0/3 (LwM2M 1.0 Appendix E.6)', async (t) => {
    const { tandem, fleet } = await fleetOf(t, 2);
    const server = tandem.lwm2m.server;
    assert.equal(await readValue(tandem, 'sim-0', '/3/0/3'), '1.0.0');
    const states: number[] = [];
    const w = await server.write('sim-0', {
      path: '/5/0/1',
      mode: 'replace',
      content: singleResource(1, Value.string('coap://127.0.0.1:5683/fw/sensor-2.4.1.bin')),
    });
    assert.equal(w.code, Code.Changed);
    states.push((await readValue(tandem, 'sim-0', '/5/0/3')) as number);
    await readUntil(tandem, 'sim-0', '/5/0/3', 'Downloaded (2)', (v) => v === 2);
    assert.equal(states[0], 1, 'Downloading right after the URI is written');
    assert.equal(await readValue(tandem, 'sim-0', '/5/0/6'), 'sensor-2.4.1.bin', 'PkgName');
    const x = await server.execute('sim-0', { path: '/5/0/2' });
    assert.equal(x.code, Code.Changed);
    assert.equal(await readValue(tandem, 'sim-0', '/5/0/3'), 3, 'Updating');
    await readUntil(tandem, 'sim-0', '/5/0/5', 'Update Result 1', (v) => v === 1);
    assert.equal(await readValue(tandem, 'sim-0', '/5/0/3'), 0, 'back to Idle');
    assert.equal(await readValue(tandem, 'sim-0', '/3/0/3'), '2.4.1');
    assert.equal(await readValue(tandem, 'sim-0', '/5/0/7'), '2.4.1', 'PkgVersion');
    assert.equal(await readValue(tandem, 'sim-1', '/3/0/3'), '1.0.0');
    assert.equal(fleet.counters.firmwareUpdates, 1);
  });

  test('firmware update by push: a package written to /5/0/0 is Downloaded at once, and installs', async (t) => {
    const { tandem } = await fleetOf(t, 1);
    const server = tandem.lwm2m.server;
    const w = await server.write('sim-0', {
      path: '/5/0/0',
      mode: 'replace',
      content: singleResource(
        0,
        Value.opaque(Buffer.from('TANDEM-FW version=3.0.0\n\u0000\u0001\u0002')),
      ),
    });
    assert.equal(w.code, Code.Changed);
    assert.equal(await readValue(tandem, 'sim-0', '/5/0/3'), 2);
    assert.equal((await server.execute('sim-0', { path: '/5/0/2' })).code, Code.Changed);
    await readUntil(tandem, 'sim-0', '/5/0/5', 'Update Result 1', (v) => v === 1);
    assert.equal(await readValue(tandem, 'sim-0', '/3/0/3'), '3.0.0');
  });

  test('firmware failures: an invalid URI is Update Result 7, an unknown scheme 9, a failed download 4 (LwM2M 1.0 Appendix E.6)', async (t) => {
    const { tandem } = await fleetOf(t, 1, { firmwareFailureRate: 1 });
    const server = tandem.lwm2m.server;
    const writeUri = (uri: string) =>
      server.write('sim-0', {
        path: '/5/0/1',
        mode: 'replace',
        content: singleResource(1, Value.string(uri)),
      });
    assert.equal((await writeUri('not a uri')).code, Code.Changed);
    assert.equal(await readValue(tandem, 'sim-0', '/5/0/5'), 7);
    assert.equal(await readValue(tandem, 'sim-0', '/5/0/3'), 0);
    assert.equal((await writeUri('ftp://example.com/fw.bin')).code, Code.Changed);
    assert.equal(await readValue(tandem, 'sim-0', '/5/0/5'), 9);
    assert.equal((await writeUri('http://127.0.0.1/fw-9.9.bin')).code, Code.Changed);
    await readUntil(tandem, 'sim-0', '/5/0/5', 'Update Result 4', (v) => v === 4);
    assert.equal(await readValue(tandem, 'sim-0', '/5/0/3'), 0, 'Idle again');
    assert.equal(
      await readValue(tandem, 'sim-0', '/3/0/3'),
      '1.0.0',
      'the old firmware still runs',
    );
  });

  test('a device honours observe attributes: with pmax=1 it notifies at least every second (LwM2M-TS-Core 1.1 §5.1.2)', async (t) => {
    // Sensors measure once a minute here, so only pmax makes notifications come.
    const { tandem } = await fleetOf(t, 1, { measureSeconds: 60 });
    const server = tandem.lwm2m.server;
    const wa = await server.writeAttributes('sim-0', {
      path: '/3303/0/5700',
      attributes: { pmax: 1 },
    });
    assert.equal(wa.code, Code.Changed);
    let notifications = 0;
    server.on('notification', (e) => {
      if (e.observation.endpoint === 'sim-0' && e.code === Code.Content) notifications++;
    });
    const o = await server.observe('sim-0', { path: '/3303/0/5700' });
    assert.equal(o.code, Code.Content);
    await until('two notifications', () => notifications >= 2);
  });

  test('queue mode: devices register with Q, turn their radio off, and wake with an Update (LwM2M-TS-Core 1.1 §6.5)', async (t) => {
    // Awake for half a second only: shorter than the server's assumption (CoAP
    // MAX_TRANSMIT_WAIT), so this test sends the devices nothing while they may sleep.
    const { tandem, fleet } = await fleetOf(t, 3, {
      queueMode: true,
      sleepSeconds: 1,
      awakeSeconds: 0.5,
    });
    const server = tandem.lwm2m.server;
    assert.equal((await server.getRegistration('sim-0'))!.queueMode, true);
    await until('a device asleep', () => fleet.lwm2mDevices.some((d) => !d.awake));
    const updates: string[] = [];
    server.on('updated', (e) => updates.push(e.current.endpoint));
    await until('a wake-up Update of every device', () => new Set(updates).size === 3);
    assert.ok(fleet.counters.wakeUps >= 3);
    assert.equal(fleet.counters.errors, 0, fleet.errorSamples.join('\n'));
  });

  test('churn: devices drop off and come back with a new registration', async (t) => {
    const { tandem, fleet } = await fleetOf(t, 6, { churn: 20, churnDowntimeMs: 200 });
    await until('three devices churned', () => fleet.counters.churned >= 3);
    await until('registrations beyond the first ones', () => fleet.counters.registrations >= 9);
    const summary = await fleet.stop();
    assert.ok(summary.churned >= 3);
    // Half the drops are silent (no De-register), as when a network goes; those registrations
    // stay on the server until their lifetime ends. Devices up at the stop de-register.
    assert.ok(summary.lwm2m.deregistrations >= summary.lwm2m.registeredAtStop);
    assert.ok(tandem);
  });
});
