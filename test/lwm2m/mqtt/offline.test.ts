/**
 * Connection state and registration (docs/lwm2m-over-mqtt.md): a registered device that is not
 * connected has its requests queued with a time-to-live, delivered when it comes back with its
 * session; they fail when the time-to-live passes or the registration ends.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { Code } from '../../../src/coap/code.js';
import { deviceTopic } from '../../../src/lwm2m/mqtt/convention.js';
import type { Lwm2mSingleResource } from '../../../src/lwm2m/node/lwm2m-node.js';
import { Lwm2mError } from '../../../src/lwm2m/server/errors.js';
import type { Registration } from '../../../src/lwm2m/server/registration.js';
import {
  cbor,
  type ManagedSetup,
  managedDevice,
  rawDevice,
  registerRaw,
  startManaged,
} from './helpers.js';

const isLwm2m = (code: string) => (e: unknown) => e instanceof Lwm2mError && e.code === code;

describe('offline managed devices', () => {
  let setup: ManagedSetup;

  before(async () => {
    setup = await startManaged({ owners: true });
  });

  after(async () => {
    await setup.close();
  });

  test('a request to a disconnected device waits and is delivered when it is back with its session', async () => {
    const persistent = { clean: false, properties: { sessionExpiryInterval: 600 } };
    const first = await managedDevice(setup.tb, 'off-1', { mqtt: persistent });
    await first.client.register();
    first.port.close();
    await first.mqtt.endAsync();
    await waitUntil(() => !setup.tb.broker.isConnected('off-1'));
    // The registration lives on; the device is not reachable.
    assert.ok(await setup.server.getRegistration('off-1'));
    const reading = setup.server.read('off-1', { path: '/3/0/0' });
    await waitUntil(() => setup.server.queuedRequests('off-1') === 1);
    // Back with the same client id and its session (its subscription) present.
    const again = await managedDevice(setup.tb, 'off-1', { mqtt: persistent });
    const r = await reading;
    assert.equal(r.code, Code.Content);
    assert.equal((r.content as Lwm2mSingleResource).value.value, 'Tandem');
    assert.equal(setup.server.queuedRequests('off-1'), 0);
    await again.client.register();
    again.client.close();
    again.port.close();
  });

  test('a queued request fails with LWM2M_ERR_QUEUE_EXPIRED when its time-to-live passes', async () => {
    await registeredThenGone(setup, 'off-2');
    await assert.rejects(
      setup.server.read('off-2', { path: '/3/0/0' }, { queueTtlMs: 20 }),
      isLwm2m('LWM2M_ERR_QUEUE_EXPIRED'),
    );
  });

  test('queued requests fail with LWM2M_ERR_CANCELLED when the registration ends', async () => {
    await registeredThenGone(setup, 'off-3');
    const reading = setup.server.read('off-3', { path: '/3/0/0' });
    await waitUntil(() => setup.server.queuedRequests('off-3') === 1);
    await setup.server.removeRegistration('off-3');
    await assert.rejects(reading, isLwm2m('LWM2M_ERR_CANCELLED'));
  });

  test('a device that speaks again after a clean start gets its queued requests', async () => {
    await registeredThenGone(setup, 'off-4');
    const reading = setup.server.read('off-4', { path: '/3/0/0' });
    await waitUntil(() => setup.server.queuedRequests('off-4') === 1);
    // A clean start: no session, so the device subscribes and speaks (an Update) first.
    const back = await rawDevice(setup.tb, 'off-4');
    await back.send({ 1: 7, 2: 2 });
    const request = await back.next((m) => m.get(1) === 9);
    assert.equal((await back.next((m) => m.get(2) === 2)).get(18), 204);
    await back.send({ 18: 205, 2: request.get(2), 19: 0, 7: Buffer.from('Back') });
    assert.equal(((await reading).content as Lwm2mSingleResource).value.value, 'Back');
  });

  test('a will on the device topic is taken when the connection is lost (MQTT-3.1.2-8): a De-register ends the registration', async () => {
    const raw = await registeredWithWill(setup, 'off-5');
    const gone = once(setup.server, 'deregistered') as Promise<[Registration]>;
    // No DISCONNECT: the network goes.
    raw.mqtt.stream.destroy();
    assert.equal((await gone)[0].endpoint, 'off-5');
  });

  test('after a clean DISCONNECT the will is not taken and the registration lives on', async () => {
    const raw = await registeredWithWill(setup, 'off-6');
    await raw.mqtt.endAsync();
    await waitUntil(() => !setup.tb.broker.isConnected('off-6'));
    assert.ok(await setup.server.getRegistration('off-6'));
  });

  test('an operation on an endpoint that is not registered fails at once (LWM2M_ERR_NOT_REGISTERED)', async () => {
    await assert.rejects(
      setup.server.read('nobody', { path: '/3/0/0' }),
      isLwm2m('LWM2M_ERR_NOT_REGISTERED'),
    );
  });
});

/** A raw device registered with a will on its topic: a De-register (T §8.3.2 operation 8). */
async function registeredWithWill(setup: ManagedSetup, name: string) {
  const will = { topic: deviceTopic(name), payload: cbor({ 1: 8, 2: 99 }), qos: 1 as const };
  const raw = await rawDevice(setup.tb, name, { will });
  await registerRaw(setup, raw);
  return raw;
}

/** A raw device that registered and then disconnected (its registration lives on). */
async function registeredThenGone(setup: ManagedSetup, name: string): Promise<void> {
  const raw = await rawDevice(setup.tb, name);
  await registerRaw(setup, raw);
  await raw.mqtt.endAsync();
  await waitUntil(() => !setup.tb.broker.isConnected(name));
}

/** Polls a condition on the event loop (state, not time, is asserted). */
async function waitUntil(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 5));
}
