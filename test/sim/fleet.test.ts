import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import mqtt from 'mqtt';
import { hashPassword } from '../../src/hub/password.js';
import { names, registeredCount, startTandemAndFleet, until } from './helpers.js';

describe('fleet simulator', () => {
  test('20 LwM2M devices register and 5 MQTT devices publish telemetry on devices/<id>/telemetry', async (t) => {
    const seen = new Map<string, number>();
    // The watcher subscribes before the fleet starts, so that it sees the first messages.
    const { tandem, fleet } = await startTandemAndFleet(
      t,
      { lwm2m: 20, mqtt: 5 },
      {},
      async (tandem) => {
        const watcher = await mqtt.connectAsync(
          `mqtt://127.0.0.1:${tandem.address('mqtt')!.port}`,
          { clientId: 'watcher' },
        );
        t.after(() => watcher.endAsync());
        watcher.on('message', (topic, payload) => {
          const body = JSON.parse(payload.toString());
          assert.equal(typeof body.temperature, 'number');
          seen.set(topic, (seen.get(topic) ?? 0) + 1);
        });
        await watcher.subscribeAsync('devices/+/telemetry');
      },
    );
    await until(
      '20 registrations',
      async () => (await registeredCount(tandem, names('sim-', 0, 20))) === 20,
    );
    await until('telemetry of every MQTT device', () =>
      names('sim-', 20, 5).every((id) => (seen.get(`devices/${id}/telemetry`) ?? 0) >= 2),
    );
    const reg = await tandem.lwm2m.server.getRegistration('sim-0');
    for (const o of [
      '/1/0',
      '/3/0',
      '/4/0',
      '/5/0',
      '/9/0',
      '/10/0',
      '/3303/0',
      '/3323/0',
      '/3202/0',
      '/3203/0',
    ]) {
      assert.ok(
        reg!.objectLinks.some((l) => l.path === o),
        `sim-0 announces ${o}`,
      );
    }
    const summary = await fleet.stop();
    assert.equal(summary.lwm2m.peakRegistered, 20);
    assert.equal(summary.lwm2m.deregistrations, 20, 'every device de-registered on stop');
    assert.equal(summary.mqtt.peakConnected, 5);
    assert.ok(summary.mqtt.published >= 10);
    assert.equal(summary.errors.count, 0, summary.errors.samples.join('\n'));
    assert.equal(await registeredCount(tandem, names('sim-', 0, 20)), 0);
  });

  test('with sendSeconds, LwM2M devices Send their sensor values unasked (LwM2M-TS-Core 1.1 §6.4.4)', async (t) => {
    const { tandem, fleet } = await startTandemAndFleet(t, {
      lwm2m: 3,
      mqtt: 0,
      sendSeconds: 0.25,
    });
    const senders = new Set<string>();
    tandem.lwm2m.server.on('send', (e) => {
      assert.ok(e.values.some((v) => v.path.toString() === '/3303/0/5700'));
      senders.add(e.registration.endpoint);
    });
    await until('a Send from every device', () => senders.size === 3);
    assert.equal(fleet.counters.errors, 0, fleet.errorSamples.join('\n'));
  });

  test('MQTT devices log in as <username-prefix><i> and publish inside their ACL devices/%d/#', async (t) => {
    const seen = new Set<string>();
    const { fleet } = await startTandemAndFleet(
      t,
      {
        lwm2m: 0,
        mqtt: 2,
        endpointPrefix: 'auth-',
        mqttUsernamePrefix: 'user-',
        mqttPassword: 's3cret',
      },
      {},
      async (tandem) => {
        const passwordHash = await hashPassword('s3cret');
        for (const i of [0, 1]) {
          await tandem.store.devices.create({
            id: `auth-${i}`,
            protocol: 'mqtt',
            credentials: { mqtt: { username: `user-${i}`, passwordHash } },
          });
        }
        const watcher = await mqtt.connectAsync(
          `mqtt://127.0.0.1:${tandem.address('mqtt')!.port}`,
          { clientId: 'watcher' },
        );
        t.after(() => watcher.endAsync());
        watcher.on('message', (topic) => seen.add(topic));
        await watcher.subscribeAsync('devices/+/telemetry');
      },
    );
    await until('telemetry of both devices', () => seen.size === 2);
    assert.deepEqual([...seen].sort(), ['devices/auth-0/telemetry', 'devices/auth-1/telemetry']);
    assert.equal(fleet.counters.errors, 0, fleet.errorSamples.join('\n'));
  });

  test('an MQTT device with a wrong password is refused and counted as an error', async (t) => {
    const { fleet } = await startTandemAndFleet(t, {
      lwm2m: 0,
      mqtt: 1,
      endpointPrefix: 'nope-',
      mqttUsernamePrefix: 'nope-',
      mqttPassword: 'wrong',
    });
    await until('an error', () => fleet.counters.errors >= 1);
    assert.equal(fleet.counters.mqttConnected, 0);
  });
});
