import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { describe, test } from 'node:test';
import mqtt from 'mqtt';
import { Tandem } from '../../src/server/tandem.js';
import { makePki } from '../dtls/pki.js';
import { startTandem, testConfig } from '../helpers/tandem.js';

const ADMIN = 'test-admin-token-0123456789abcdef0123456789';

async function started(t: TestContext) {
  const tandem = await startTandem(t, {}, { adminToken: ADMIN });
  const http = `http://127.0.0.1:${tandem.address('http')!.port}`;
  const api = async (
    method: string,
    path: string,
    body?: unknown,
    token: string | null = ADMIN,
  ) => {
    const res = await fetch(`${http}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  return { tandem, api, mqttUrl: `mqtt://127.0.0.1:${tandem.address('mqtt')!.port}` };
}

const http = (tandem: Tandem) => `http://127.0.0.1:${tandem.address('http')!.port}`;

/** The CONNACK refusal code of a connection attempt. */
function refusal(url: string, options: mqtt.IClientOptions): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, ...options });
    client.on('connect', () => {
      client.end();
      reject(new Error('connected, expected a refusal'));
    });
    client.on('error', (err) => {
      client.end(true);
      resolve((err as mqtt.ErrorWithReasonCode).code as number | undefined);
    });
  });
}

/** Resolves when the client's connection closes. */
const closed = (client: mqtt.MqttClient) =>
  new Promise<void>((resolve) => client.once('close', () => resolve()));

describe('device lifecycle through the HTTP API', () => {
  test('a device created through the API connects over MQTT; DELETE closes its connection and it can no longer connect', async (t) => {
    const { api, mqttUrl, tandem } = await started(t);
    const created = await api('POST', '/api/devices', {
      id: 'plant-1',
      protocol: 'mqtt',
      credentials: { mqtt: { username: 'plant-1', password: 'pw-plant-1' } },
      tags: ['greenhouse'],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));

    const options = { protocolVersion: 5 as const, username: 'plant-1', password: 'pw-plant-1' };
    const client = await mqtt.connectAsync(mqttUrl, { ...options, reconnectPeriod: 0 });
    t.after(() => client.end(true));
    assert.equal((await api('GET', '/api/devices/plant-1')).body.online, true);
    const metrics = await (await fetch(`${http(tandem)}/metrics`)).text();
    assert.match(metrics, /^tandem_devices_online 1$/m);
    const online = await api('GET', '/api/devices?online=true');
    assert.deepEqual(
      online.body.devices.map((d: { id: string }) => d.id),
      ['plant-1'],
    );

    const gone = closed(client);
    const offline = tandem.devices.events.next('offline');
    assert.equal((await api('DELETE', '/api/devices/plant-1')).status, 204);
    await gone;
    assert.deepEqual(await offline, { id: 'plant-1', protocol: 'mqtt' });

    // MQTT 5.0 §3.2.2.2: 0x86 Bad User Name or Password.
    assert.equal(await refusal(mqttUrl, options), 0x86);
    assert.equal(await refusal(mqttUrl, { ...options, protocolVersion: 4 }), 4);
    assert.equal((await api('GET', '/api/devices/plant-1')).status, 404);
  });

  test('a device registered with its X.509 certificate is identified by its subject over MQTT/TLS; DELETE closes the connection and the certificate no longer identifies it', async (t) => {
    const pki = makePki();
    t.after(() => pki.remove());
    const tandem = await startTandem(
      t,
      {
        listeners: {
          mqtts: {
            port: 0,
            cert: pki.path('server.pem'),
            key: pki.path('server.key'),
            ca: pki.path('ca.pem'),
          },
        },
      },
      { adminToken: ADMIN },
    );
    const http = `http://127.0.0.1:${tandem.address('http')!.port}`;
    const headers = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
    const created = await fetch(`${http}/api/devices`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        id: 'dev1',
        protocol: 'mqtt',
        credentials: { x509: { certificate: pki.clientCert } },
      }),
    });
    assert.equal(created.status, 201);
    const device = (await created.json()) as { credentials: { x509: { subject: string } } };
    assert.equal(device.credentials.x509.subject, 'CN=dev1');

    const url = `mqtts://127.0.0.1:${tandem.address('mqtts')!.port}`;
    const tls = { ca: pki.caPem, cert: pki.clientCert, key: pki.clientKey, reconnectPeriod: 0 };
    const online = tandem.devices.events.next('online');
    const client = await mqtt.connectAsync(url, tls);
    t.after(() => client.end(true));
    assert.deepEqual(await online, { id: 'dev1', protocol: 'mqtt' });

    const gone = closed(client);
    const revoked = tandem.devices.events.next('revoked');
    const res = await fetch(`${http}/api/devices/dev1`, { method: 'DELETE', headers });
    assert.equal(res.status, 204);
    await gone;
    assert.equal((await revoked).sessionsClosed, 1);

    // On this loopback-only server an unknown subject still gets in anonymously (development
    // mode), but no longer as the device: beyond loopback it is refused (test/hub).
    const again = await mqtt.connectAsync(url, tls);
    assert.equal(tandem.devices.isOnline('dev1'), false);
    await again.endAsync();
  });

  test('DELETE also closes a device connection over MQTT/WebSocket and over TLS', async (t) => {
    const { api, tandem } = await started(t);
    await api('POST', '/api/devices', {
      id: 'web-1',
      protocol: 'mqtt',
      credentials: { mqtt: { username: 'web-1', password: 'pw-web' } },
    });
    const creds = { username: 'web-1', password: 'pw-web', reconnectPeriod: 0 };
    const overWs = await mqtt.connectAsync(`ws://127.0.0.1:${tandem.address('ws')!.port}/mqtt`, {
      ...creds,
      protocolVersion: 5,
    });
    t.after(() => overWs.end(true));
    const overTls = await mqtt.connectAsync(`mqtts://127.0.0.1:${tandem.address('mqtts')!.port}`, {
      ...creds,
      rejectUnauthorized: false,
    });
    t.after(() => overTls.end(true));
    const closedBoth = Promise.all([closed(overWs), closed(overTls)]);
    const revoked = tandem.devices.events.next('revoked');
    assert.equal((await api('DELETE', '/api/devices/web-1')).status, 204);
    await closedBoth;
    assert.equal((await revoked).sessionsClosed, 2);
  });

  test('replacing a device password closes its connection; only the new password connects', async (t) => {
    const { api, mqttUrl } = await started(t);
    await api('POST', '/api/devices', {
      id: 'meter-1',
      protocol: 'mqtt',
      credentials: { mqtt: { username: 'meter-1', password: 'old-password' } },
    });
    const old = { protocolVersion: 5 as const, username: 'meter-1', password: 'old-password' };
    const client = await mqtt.connectAsync(mqttUrl, { ...old, reconnectPeriod: 0 });
    t.after(() => client.end(true));
    const gone = closed(client);
    const patched = await api('PATCH', '/api/devices/meter-1', {
      credentials: { mqtt: { username: 'meter-1', password: 'new-password' } },
    });
    assert.equal(patched.status, 200);
    await gone;
    assert.equal(await refusal(mqttUrl, old), 0x86);
    const renewed = await mqtt.connectAsync(mqttUrl, {
      ...old,
      password: 'new-password',
      reconnectPeriod: 0,
    });
    await renewed.endAsync();
  });

  test('changing only tags keeps the connection open', async (t) => {
    const { api, mqttUrl, tandem } = await started(t);
    await api('POST', '/api/devices', {
      id: 'calm',
      protocol: 'mqtt',
      credentials: { mqtt: { username: 'calm', password: 'calm-pw' } },
    });
    const client = await mqtt.connectAsync(mqttUrl, {
      username: 'calm',
      password: 'calm-pw',
      reconnectPeriod: 0,
    });
    t.after(() => client.end(true));
    const updated = tandem.devices.events.next('updated');
    assert.equal((await api('PATCH', '/api/devices/calm', { tags: ['quiet'] })).status, 200);
    assert.deepEqual((await updated).revoked, []);
    // A round trip through the broker proves the connection survived the change.
    await client.subscribeAsync('devices/calm/echo');
    assert.equal(client.connected, true);
    assert.equal(tandem.devices.isOnline('calm'), true);
  });

  test('TANDEM_ADMIN_TOKEN is the first admin token; in loopback mode anonymous requests only read', async (t) => {
    const { api } = await started(t);
    const tokens = await api('GET', '/api/tokens');
    assert.equal(tokens.status, 200);
    assert.deepEqual(
      tokens.body.tokens.map((x: { id: string; role: string }) => [x.id, x.role]),
      [['env-admin', 'admin']],
    );
    assert.equal((await api('GET', '/api/devices', undefined, null)).status, 200);
    const write = await api('POST', '/api/devices', { id: 'x', protocol: 'mqtt' }, null);
    assert.equal(write.status, 401);
    assert.equal((await api('GET', '/api/tokens', undefined, null)).status, 401);
  });

  test('a TANDEM_ADMIN_TOKEN shorter than 32 characters fails the start', async (t) => {
    const tandem = new Tandem({ config: testConfig(t), adminToken: 'short' });
    t.after(() => tandem.stop());
    await assert.rejects(tandem.start(), /at least 32 characters/);
  });

  test('anonymous API reads are off as soon as one listener is beyond loopback', (t) => {
    assert.equal(new Tandem({ config: testConfig(t) }).apiAnonymousReads, true);
    const open = new Tandem({
      config: testConfig(t, { listeners: { http: { port: 0, host: '0.0.0.0' } } }),
    });
    assert.equal(open.apiAnonymousReads, false);
    const mqttOpen = new Tandem({ config: testConfig(t, { host: '0.0.0.0' }) });
    assert.equal(mqttOpen.apiAnonymousReads, false);
  });
});
