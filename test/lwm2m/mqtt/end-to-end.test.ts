/**
 * Issue 6's check: one LwM2M device (our client over CoAP) and one managed MQTT device (MQTT.js
 * speaking the convention, written here) are read, written, executed and observed through the
 * same REST calls and the same MQTT request/response commands; their data is stored, queryable
 * and published on the application topics.
 */
import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import { issueToken } from '../../../src/hub/api-tokens.js';
import type { SensorInstance } from '../../../src/lwm2m/client/index.js';
import type { Tandem } from '../../../src/server/tandem.js';
import { lwm2mDevice } from '../../helpers/lwm2m-device.js';
import { startTandem } from '../../helpers/tandem.js';
import { cbor, uncbor } from './helpers.js';

type SenmlRecord = { bn?: string; n?: string; v?: number; vs?: string; vb?: boolean };

/**
 * A managed MQTT device as a device maker would write it with MQTT.js: it logs in with its
 * MQTT credentials, registers on `devices/{id}/lwm2m/rd/{id}` and answers Read, Write,
 * Execute, Write-Attributes and Observe in SenML JSON (the only format it announces).
 */
async function mqttDevice(t: TestContext, tandem: Tandem, id: string, password: string) {
  const client: MqttClient = await mqtt.connectAsync(
    `mqtt://127.0.0.1:${tandem.address('mqtt')!.port}`,
    { protocolVersion: 4, reconnectPeriod: 0, clientId: id, username: id, password },
  );
  t.after(() => client.endAsync());
  const topic = `devices/${id}/lwm2m/rd/${id}`;
  const values = new Map<string, SenmlRecord>([
    ['/3/0/0', { vs: 'Raw Devices Inc.' }],
    ['/3303/0/5700', { v: 20 }],
    ['/3303/0/5750', { vs: 'none' }],
    ['/3303/0/5701', { vs: 'Cel' }],
  ]);
  const executed: string[] = [];
  const observations = new Map<string, number>();
  const answers = new Map<number, (m: Map<unknown, unknown>) => void>();
  const senml = (path: string) => Buffer.from(JSON.stringify([{ n: path, ...values.get(path) }]));
  const send = (fields: Record<string | number, unknown>) =>
    client.publishAsync(topic, cbor(fields), { qos: 1 });
  client.on('message', (_t, payload) => {
    const m = uncbor(payload);
    const token = m.get(2) as number;
    if (m.has(18)) {
      answers.get(token)?.(m);
      return;
    }
    const path = m.get(5) as string;
    switch (m.get(1)) {
      case 9: // Read
      case 20: // Observe
        if (!values.has(path)) return void send({ 18: 404, 2: token });
        if (m.get(1) === 20) observations.set(path, token);
        return void send({ 18: 205, 2: token, 19: 110, 7: senml(path) });
      case 12: {
        // Write (replace), SenML JSON: names are bn + n (RFC 8428 §4.5.1).
        let bn = '';
        for (const r of JSON.parse(
          Buffer.from(m.get(7) as Uint8Array).toString(),
        ) as SenmlRecord[]) {
          bn = r.bn ?? bn;
          const { bn: _bn, n, ...value } = r;
          values.set(bn + (n ?? ''), value);
        }
        return void send({ 18: 204, 2: token });
      }
      case 16: // Execute
        executed.push(path);
        return void send({ 18: 204, 2: token });
      case 14: // Write-Attributes
        return void send({ 18: 204, 2: token });
      default:
        return void send({ 18: 405, 2: token });
    }
  });
  await client.subscribeAsync(topic, { qos: 1 });
  const request = (fields: Record<string | number, unknown>) =>
    new Promise<Map<unknown, unknown>>((resolve) => {
      answers.set(fields[2] as number, resolve);
      void send(fields);
    });
  const registered = await request({
    1: 6,
    2: 1,
    8: 300,
    9: '1.2',
    10: 'M',
    7: Buffer.from('</>;ct=110,</3/0>,</3303/0>'),
  });
  assert.equal(registered.get(18), 201);
  return {
    executed,
    /** A new measurement: notifies the observation of the path, if any. */
    measure(path: string, v: number) {
      values.set(path, { v });
      const token = observations.get(path);
      if (token !== undefined) void send({ 1: 23, 2: token, 19: 110, 7: senml(path) });
    },
  };
}

/** An MQTT 5 application: commands by request/response, data on the tandem/ topics. */
async function application(t: TestContext, tandem: Tandem, token: string) {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${tandem.address('mqtt')!.port}`, {
    protocolVersion: 5,
    reconnectPeriod: 0,
    username: 'token',
    password: token,
  });
  t.after(() => client.endAsync());
  const received: IPublishPacket[] = [];
  const waiters: (() => void)[] = [];
  client.on('message', (_topic, _payload, packet) => {
    received.push(packet);
    for (const w of waiters.splice(0)) w();
  });
  await client.subscribeAsync(['tandem/devices/+/data/#', 'app/responses']);
  const next = async (match: (p: IPublishPacket) => boolean) => {
    for (;;) {
      const found = received.find(match);
      if (found) return found;
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  let correlation = 0;
  return {
    next,
    /** A command to a device (docs/application-topics.md) and its answer. */
    async command(id: string, body: Record<string, unknown>) {
      const correlationData = Buffer.from(String(++correlation));
      await client.publishAsync(`tandem/commands/${id}`, JSON.stringify(body), {
        qos: 1,
        properties: {
          responseTopic: 'app/responses',
          correlationData,
          userProperties: { authorization: `Bearer ${token}` },
        },
      });
      const answer = await next(
        (p) =>
          p.topic === 'app/responses' && !!p.properties?.correlationData?.equals(correlationData),
      );
      return JSON.parse(answer.payload.toString()) as Record<string, unknown>;
    },
  };
}

/** The REST API of a started Tandem with a token: status and JSON body of each call. */
function apiOf(tandem: Tandem, token: string) {
  const http = `http://127.0.0.1:${tandem.address('http')!.port}`;
  return async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${http}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
  };
}

/** A device with an MQTT login, created through the API. */
async function createMqttDevice(api: ReturnType<typeof apiOf>, id: string, password: string) {
  const created = await api('POST', '/api/devices', {
    id,
    protocol: 'mqtt',
    credentials: { mqtt: { username: id, password } },
  });
  assert.equal(created.status, 201);
}

describe('one device model for CoAP and managed MQTT devices (issue 6)', () => {
  test('the same REST calls and MQTT commands read, write, execute and observe both, and their data is stored', async (t) => {
    const tandem = await startTandem(t);
    const operator = (await issueToken(tandem.store.tokens, 'operator')).token;
    const api = apiOf(tandem, operator);
    await createMqttDevice(api, 'mq1', 'secret-mq1');
    const coap = await lwm2mDevice(t, tandem, 'co1');
    await coap.register();
    const managed = await mqttDevice(t, tandem, 'mq1', 'secret-mq1');
    assert.equal((await tandem.managedMqtt.getRegistration('mq1'))?.peer.key, 'mqtt:mq1');
    const app = await application(t, tandem, operator);

    for (const id of ['co1', 'mq1']) {
      // Read (LwM2M-TS-Core 1.1 §6.3.1).
      const read = await api('GET', `/api/devices/${id}/3/0/0`);
      assert.equal(read.status, 200, id);
      assert.equal(read.body.path, '/3/0/0');
      assert.equal(typeof read.body.value, 'string');
      // Write (§6.3.3), then read back through an MQTT command.
      const written = await api('PUT', `/api/devices/${id}/3303/0/5750`, { value: `app-${id}` });
      assert.equal(written.status, 204, id);
      const back = await app.command(id, { op: 'read', path: '/3303/0/5750' });
      assert.equal(back.value, `app-${id}`, id);
      // Execute (§6.3.5): 5605 resets the measured minimum and maximum.
      const executed = await api('POST', `/api/devices/${id}/3303/0/5605`);
      assert.equal(executed.status, 204, id);
      // Observe (§6.4.1) through an MQTT command; a new value is stored and published.
      const observed = await app.command(id, { op: 'observe', path: '/3303/0/5700' });
      assert.equal(observed.path, '/3303/0/5700', id);
    }
    assert.deepEqual(managed.executed, ['/3303/0/5605']);

    (coap.objects.get(3303)!.instances.get(0) as SensorInstance).measure(24.5);
    managed.measure('/3303/0/5700', 26.5);
    for (const [id, value] of [
      ['co1', 24.5],
      ['mq1', 26.5],
    ] as const) {
      const published = await app.next(
        (p) =>
          p.topic === `tandem/devices/${id}/data/3303/0/5700` &&
          JSON.parse(p.payload.toString()).value === value,
      );
      const body = JSON.parse(published.payload.toString());
      assert.equal(body.unit, 'Cel', id);
      assert.equal(body.type, 'float', id);
      // Stored as telemetry, queryable by device and path.
      for (;;) {
        const data = await api('GET', `/api/devices/${id}/data?path=/3303/0/5700`);
        assert.equal(data.status, 200);
        if ((data.body as { value: unknown }[]).some((p) => p.value === value)) break;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const device = await api('GET', '/api/devices/mq1');
    assert.equal(device.body.online, true);
  });

  test('a device speaks only for its own endpoint; a deleted device loses its registration and cannot connect', async (t) => {
    const tandem = await startTandem(t);
    const admin = (await issueToken(tandem.store.tokens, 'admin')).token;
    const api = apiOf(tandem, admin);
    for (const id of ['own1', 'own2']) await createMqttDevice(api, id, `pw-${id}`);
    await mqttDevice(t, tandem, 'own1', 'pw-own1');
    const url = `mqtt://127.0.0.1:${tandem.address('mqtt')!.port}`;
    const other = await mqtt.connectAsync(url, {
      protocolVersion: 5,
      reconnectPeriod: 0,
      clientId: 'own2',
      username: 'own2',
      password: 'pw-own2',
    });
    t.after(() => other.endAsync());
    const own = 'devices/own2/lwm2m/rd/own2';
    await other.subscribeAsync(own, { qos: 1 });
    const told = new Promise<Map<unknown, unknown>>((resolve) =>
      other.on('message', (topic, payload) => {
        if (topic === own) resolve(uncbor(payload));
      }),
    );
    // LwM2M 1.0 §8.2.3 Table 24: 4.03 for an endpoint name that is not the client's.
    await assert.rejects(
      other.publishAsync('devices/own1/lwm2m/rd/own1', cbor({ 1: 7, 2: 77 }), { qos: 1 }),
    );
    const answer = await told;
    assert.equal(answer.get(18), 403);
    assert.equal(answer.get(2), 77);
    assert.equal((await tandem.managedMqtt.getRegistration('own1'))?.peer.key, 'mqtt:own1');
    // An application (an API token login) never speaks for a device.
    const app = await mqtt.connectAsync(url, {
      protocolVersion: 5,
      reconnectPeriod: 0,
      username: 'token',
      password: admin,
    });
    t.after(() => app.endAsync());
    await assert.rejects(
      app.publishAsync('devices/own1/lwm2m/rd/own1', cbor({ 1: 8, 2: 1 }), { qos: 1 }),
    );
    assert.ok(await tandem.managedMqtt.getRegistration('own1'));
    // Deleting the device revokes its login: connection closed, registration removed.
    assert.equal((await api('DELETE', '/api/devices/own1')).status, 204);
    for (;;) {
      if (!(await tandem.managedMqtt.getRegistration('own1'))) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await assert.rejects(
      mqtt.connectAsync(url, {
        protocolVersion: 5,
        reconnectPeriod: 0,
        clientId: 'own1',
        username: 'own1',
        password: 'pw-own1',
      }),
    );
  });
});
