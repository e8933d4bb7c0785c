/**
 * `tandem sim --managed-mqtt N`: simulated devices with the LwM2M devices' objects and life,
 * registered over MQTT with the LwM2M-over-MQTT convention (docs/lwm2m-over-mqtt.md).
 */
import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import { Code } from '../../src/coap/code.js';
import { type Lwm2mSingleResource, singleResource } from '../../src/lwm2m/node/lwm2m-node.js';
import { Value } from '../../src/lwm2m/node/lwm2m-value.js';
import type { Tandem } from '../../src/server/tandem.js';
import type { FleetSummary } from '../../src/sim/index.js';
import { spawnCli } from '../cli/helpers.js';
import { startTandem } from '../helpers/tandem.js';
import { names, startTandemAndFleet, until } from './helpers.js';

/** A Tandem and `count` managed MQTT devices (`sim-0`...), all registered. */
async function managedFleet(t: TestContext, count: number, extra = {}) {
  const { tandem, fleet } = await startTandemAndFleet(t, {
    lwm2m: 0,
    mqtt: 0,
    managedMqtt: count,
    ...extra,
  });
  const server = tandem.managedMqtt;
  await until(`${count} registrations over MQTT`, async () => {
    const regs = await Promise.all(names('sim-', 0, count).map((n) => server.getRegistration(n)));
    return regs.every((r) => r !== undefined);
  });
  return { tandem, fleet, server };
}

async function readValue(tandem: Tandem, ep: string, path: string): Promise<unknown> {
  const r = await tandem.managedMqtt.read(ep, { path });
  assert.equal(r.code, Code.Content, `read ${ep} ${path}`);
  return (r.content as Lwm2mSingleResource).value.value;
}

describe('simulated managed MQTT devices', () => {
  test('register over MQTT with every object; their sensors drift', async (t) => {
    const { tandem, fleet, server } = await managedFleet(t, 3);
    const reg = await server.getRegistration('sim-2');
    assert.equal(reg?.peer.key, 'mqtt:sim-2');
    assert.equal(reg?.binding, 'M');
    assert.equal(reg?.lwm2mVersion, '1.2');
    for (const o of ['/1/0', '/3/0', '/4/0', '/5/0', '/9/0', '/10/0', '/3303/0', '/3323/0']) {
      assert.ok(
        reg?.objectLinks.some((l) => l.path === o),
        o,
      );
    }
    assert.equal(fleet.counters.lwm2mRegistered, 3);
    const first = await readValue(tandem, 'sim-1', '/3303/0/5700');
    await until('the temperature to move', async () => {
      return (await readValue(tandem, 'sim-1', '/3303/0/5700')) !== first;
    });
  });

  test('observe attributes are honoured: with pmax=1 notifications keep coming', async (t) => {
    const { server } = await managedFleet(t, 1, { measureSeconds: 60 });
    const wa = await server.writeAttributes('sim-0', {
      path: '/3303/0/5700',
      attributes: { pmax: 1 },
    });
    assert.equal(wa.code, Code.Changed);
    let notifications = 0;
    server.on('notification', (e) => {
      if (e.observation.endpoint === 'sim-0' && e.code === Code.Content) notifications++;
    });
    assert.equal((await server.observe('sim-0', { path: '/3303/0/5700' })).code, Code.Content);
    await until('two notifications', () => notifications >= 2);
  });

  test('Reboot (/3/0/4): the device de-registers, reconnects and registers again', async (t) => {
    const { fleet, server } = await managedFleet(t, 2);
    const events: string[] = [];
    server.on('deregistered', (r) => {
      if (r.endpoint === 'sim-1') events.push('deregistered');
    });
    server.on('registered', (e) => {
      if (e.registration.endpoint === 'sim-1') events.push('registered');
    });
    const before = await server.getRegistration('sim-1');
    assert.equal((await server.execute('sim-1', { path: '/3/0/4' })).code, Code.Changed);
    await until('de-register then register', () => events.length >= 2);
    assert.deepEqual(events.slice(0, 2), ['deregistered', 'registered']);
    assert.notEqual((await server.getRegistration('sim-1'))?.id, before?.id);
    assert.equal(fleet.counters.reboots, 1);
  });

  test('firmware update by pull through object 5 ends with the new version in /3/0/3', async (t) => {
    const { tandem, fleet, server } = await managedFleet(t, 1);
    assert.equal(await readValue(tandem, 'sim-0', '/3/0/3'), '1.0.0');
    const w = await server.write('sim-0', {
      path: '/5/0/1',
      mode: 'replace',
      content: singleResource(1, Value.string('coap://127.0.0.1:5683/fw/sensor-2.4.1.bin')),
    });
    assert.equal(w.code, Code.Changed);
    await until('Downloaded (2)', async () => (await readValue(tandem, 'sim-0', '/5/0/3')) === 2);
    assert.equal((await server.execute('sim-0', { path: '/5/0/2' })).code, Code.Changed);
    await until('Update Result 1', async () => (await readValue(tandem, 'sim-0', '/5/0/5')) === 1);
    assert.equal(await readValue(tandem, 'sim-0', '/3/0/3'), '2.4.1');
    assert.equal(fleet.counters.firmwareUpdates, 1);
  });

  test('the summary counts them as LwM2M devices over MQTT', async (t) => {
    const { fleet } = await managedFleet(t, 2);
    const summary = await fleet.stop();
    assert.equal(summary.lwm2m.devices, 2);
    assert.equal(summary.lwm2m.managedMqtt, 2);
    assert.equal(summary.lwm2m.peakRegistered, 2);
    assert.equal(summary.errors.count, 0, summary.errors.samples.join('; '));
  });

  test('tandem sim --managed-mqtt 2 --api-url: the devices are created with MQTT logins, register as themselves, de-register at the end', async (t) => {
    const admin = 'c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00';
    const tandem = await startTandem(t, {}, { adminToken: admin });
    const registered: string[] = [];
    tandem.managedMqtt.on('registered', (e) => registered.push(e.registration.endpoint));
    const { code, stdout, stderr } = await spawnCli([
      'sim',
      '--mqtt',
      '1',
      '--managed-mqtt',
      '2',
      '--endpoint-prefix',
      'cli-',
      '--mqtt-url',
      `mqtt://127.0.0.1:${tandem.address('mqtt')!.port}`,
      '--mqtt-username-prefix',
      'cli-',
      '--mqtt-password',
      'cli-password',
      '--api-url',
      `http://127.0.0.1:${tandem.address('http')!.port}`,
      '--api-token',
      admin,
      '--duration',
      '3',
      '--json',
    ]).done;
    assert.equal(code, 0, stderr);
    const summary = JSON.parse(stdout) as FleetSummary;
    assert.equal(summary.lwm2m.managedMqtt, 2);
    assert.equal(summary.lwm2m.peakRegistered, 2);
    assert.equal(summary.mqtt.peakConnected, 1);
    assert.equal(summary.errors.count, 0, summary.errors.samples.join('\n'));
    // Plain MQTT devices take the first indexes, managed ones the next (--help).
    assert.deepEqual(registered.sort(), ['cli-1', 'cli-2']);
    assert.equal((await tandem.devices.get('cli-1'))?.protocol, 'mqtt');
    assert.equal(await tandem.managedMqtt.getRegistration('cli-1'), undefined, 'de-registered');
  });
});
