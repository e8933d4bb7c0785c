/**
 * Plain MQTT devices through device profiles (issue 6): a profile maps topics and JSON fields
 * onto LwM2M resources; what a device publishes is stored as telemetry under those paths, the
 * rest under `mqtt:<topic>`. The device here is Debian's mosquitto_pub, a real peer.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, type TestContext, test } from 'node:test';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import { httpApi, type Json } from '../helpers/http-api.js';
import { readEvents } from '../helpers/sse.js';
import { startTandem } from '../helpers/tandem.js';

const run = promisify(execFile);

async function setup(t: TestContext) {
  // Devices may publish under plant/ too, as a factory's sensors do.
  const tandem = await startTandem(t, { mqtt: { deviceTopics: ['devices/%d/#', 'plant/#'] } });
  const { call, tokens, base } = await httpApi(tandem);
  /** mosquitto_pub as device `id` (user name and password `<id>-secret`), QoS 1. */
  const publish = (id: string, topic: string, message: string) =>
    run('/usr/bin/mosquitto_pub', [
      ...['-h', '127.0.0.1', '-p', String(tandem.address('mqtt')!.port)],
      ...['-i', id, '-u', id, '-P', `${id}-secret`, '-q', '1', '-t', topic, '-m', message],
    ]);
  const device = async (id: string) => {
    const res = await call('POST', '/api/devices', {
      as: 'admin',
      body: {
        id,
        protocol: 'mqtt',
        credentials: { mqtt: { username: id, password: `${id}-secret` } },
      },
    });
    assert.equal(res.status, 201);
  };
  return { tandem, call, publish, device, tokens, base };
}

/** The stored points of `path`, newest first, once `count` are there. */
async function points(
  call: Awaited<ReturnType<typeof setup>>['call'],
  id: string,
  path: string,
  count: number,
): Promise<Json[]> {
  const url = `/api/devices/${id}/data?path=${encodeURIComponent(path)}`;
  for (let i = 0; i < 200; i++) {
    const res = await call('GET', url, { as: 'read-only' });
    if ((res.json as unknown as Json[]).length >= count) return res.json as unknown as Json[];
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`${count} points of ${path} never arrived`);
}

const PLANT = {
  description: 'plant sensors',
  mappings: [
    { topic: 'plant/+/temperature', path: '/3303/0/5700' },
    { topic: 'devices/%d/state', path: '/3323/0/5700', field: 'pressure.kPa' },
    { topic: 'devices/%d/state', path: '/3/0/9', field: 'battery' },
  ],
};

describe('device profiles for plain MQTT devices (REST, mosquitto_pub)', () => {
  test('mapped topics and fields become typed telemetry of their resources; the rest stays raw on its topic', async (t) => {
    const { call, publish, device } = await setup(t);
    await device('pump1');
    const put = await call('PUT', '/api/profiles/plant', { as: 'admin', body: PLANT });
    assert.equal(put.status, 201);
    assert.deepEqual(put.json.mappings, PLANT.mappings);
    assert.deepEqual(
      (await call('PUT', '/api/devices/pump1/profile', { as: 'admin', body: { profile: 'plant' } }))
        .json,
      { profile: 'plant' },
    );
    await publish('pump1', 'plant/7/temperature', '21.5');
    await publish('pump1', 'devices/pump1/state', '{"pressure":{"kPa":101.3},"battery":87}');
    await publish('pump1', 'devices/pump1/log', 'boot ok');
    await publish('pump1', 'plant/7/temperature', 'warm');

    const temperature = await points(call, 'pump1', '/3303/0/5700', 1);
    assert.equal(temperature[0]!.value, 21.5);
    assert.equal((await points(call, 'pump1', '/3323/0/5700', 1))[0]!.value, 101.3);
    assert.equal((await points(call, 'pump1', '/3/0/9', 1))[0]!.value, 87);
    assert.equal((await points(call, 'pump1', 'mqtt:devices/pump1/log', 1))[0]!.value, 'boot ok');
    // A value that does not fit its resource (a float) is kept raw, not lost nor coerced.
    assert.equal((await points(call, 'pump1', 'mqtt:plant/7/temperature', 1))[0]!.value, 'warm');
    assert.equal((await points(call, 'pump1', '/3303/0/5700', 1)).length, 1);
  });

  test('mapped values reach applications like LwM2M data: on tandem/devices/{id}/data and as data events', async (t) => {
    const { tandem, call, publish, device, tokens, base } = await setup(t);
    await device('pump5');
    await call('PUT', '/api/profiles/plant', { as: 'admin', body: PLANT });
    await call('PUT', '/api/devices/pump5/profile', { as: 'admin', body: { profile: 'plant' } });
    const app = await mqtt.connectAsync(`mqtt://127.0.0.1:${tandem.address('mqtt')!.port}`, {
      reconnectPeriod: 0,
    });
    t.after(() => app.end(true));
    await app.subscribeAsync('tandem/devices/pump5/data/#');
    const bridged = new Promise<{ topic: string; body: Json }>((resolve) =>
      app.on('message', (topic, payload) => resolve({ topic, body: JSON.parse(String(payload)) })),
    );
    const abort = new AbortController();
    t.after(() => abort.abort());
    const stream = await fetch(`${base}/api/events?device=pump5&type=data`, {
      headers: { authorization: `Bearer ${tokens['read-only']}` },
      signal: abort.signal,
    });
    const reading = readEvents(stream.body!, (e) => e.event === 'data');
    await publish('pump5', 'plant/3/temperature', '23.25');

    const { topic, body } = await bridged;
    assert.equal(topic, 'tandem/devices/pump5/data/3303/0/5700');
    assert.equal(typeof body.ts, 'string');
    delete body.ts;
    assert.deepEqual(body, {
      path: '/3303/0/5700',
      value: 23.25,
      type: 'float',
      name: 'Sensor Value',
    });
    const [event] = await reading;
    abort.abort();
    assert.equal(event!.data.path, '/3303/0/5700');
    assert.equal((event!.data.data as Json).value, 23.25);
  });

  test('without a profile everything a device publishes is raw telemetry of its topic', async (t) => {
    const { call, publish, device } = await setup(t);
    await device('pump2');
    assert.deepEqual((await call('GET', '/api/devices/pump2/profile', { as: 'read-only' })).json, {
      profile: null,
    });
    await publish('pump2', 'devices/pump2/temperature', '19');
    assert.equal((await points(call, 'pump2', 'mqtt:devices/pump2/temperature', 1))[0]!.value, 19);
  });

  test('a profile given later applies from the next message on; removing it stops it', async (t) => {
    const { call, publish, device } = await setup(t);
    await device('pump3');
    await publish('pump3', 'plant/1/temperature', '10');
    await points(call, 'pump3', 'mqtt:plant/1/temperature', 1);
    await call('PUT', '/api/profiles/plant', { as: 'admin', body: PLANT });
    await call('PUT', '/api/devices/pump3/profile', { as: 'admin', body: { profile: 'plant' } });
    await publish('pump3', 'plant/1/temperature', '11');
    assert.equal((await points(call, 'pump3', '/3303/0/5700', 1))[0]!.value, 11);
    await call('PUT', '/api/devices/pump3/profile', { as: 'admin', body: { profile: null } });
    await publish('pump3', 'plant/1/temperature', '12');
    assert.equal((await points(call, 'pump3', 'mqtt:plant/1/temperature', 2))[0]!.value, 12);
  });

  test('profiles are listed, validated with the offending field, and kept while a device has one', async (t) => {
    const { call, device } = await setup(t);
    await device('pump4');
    const bad = await call('PUT', '/api/profiles/p', {
      as: 'admin',
      body: { mappings: [{ topic: 'a/#/b', path: '/3303/0/5700' }] },
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.field, 'mappings.0.topic');
    const unknown = await call('PUT', '/api/profiles/p', {
      as: 'admin',
      body: { mappings: [{ topic: 'a', path: '/3303/0/9999' }] },
    });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.json.field, 'mappings.0.path');
    assert.equal(
      (await call('PUT', '/api/profiles/p', { as: 'operator', body: PLANT })).status,
      403,
    );
    assert.equal(
      (await call('PUT', '/api/profiles/plant', { as: 'admin', body: PLANT })).status,
      201,
    );
    assert.equal(
      (await call('PUT', '/api/profiles/plant', { as: 'admin', body: PLANT })).status,
      200,
    );
    const list = await call('GET', '/api/profiles', { as: 'read-only' });
    assert.deepEqual(
      (list.json.profiles as Json[]).map((p) => p.id),
      ['plant'],
    );
    const missing = await call('PUT', '/api/devices/pump4/profile', {
      as: 'admin',
      body: { profile: 'nope' },
    });
    assert.equal(missing.status, 400);
    assert.equal(missing.json.field, 'profile');
    assert.equal(
      (await call('PUT', '/api/devices/ghost/profile', { as: 'admin', body: { profile: 'plant' } }))
        .status,
      404,
    );
    await call('PUT', '/api/devices/pump4/profile', { as: 'admin', body: { profile: 'plant' } });
    const inUse = await call('DELETE', '/api/profiles/plant', { as: 'admin' });
    assert.equal(inUse.status, 409);
    assert.equal(inUse.json.code, 'TANDEM_ERR_PROFILE_IN_USE');
    assert.equal((await call('DELETE', '/api/devices/pump4', { as: 'admin' })).status, 204);
    assert.equal((await call('DELETE', '/api/profiles/plant', { as: 'admin' })).status, 204);
    const gone = await call('GET', '/api/profiles/plant', { as: 'read-only' });
    assert.equal(gone.status, 404);
    assert.equal(gone.json.code, 'TANDEM_ERR_PROFILE_NOT_FOUND');
  });
});
