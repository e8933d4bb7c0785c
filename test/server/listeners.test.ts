import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import { hashPassword } from '../../src/hub/password.js';
import type { Tandem } from '../../src/server/tandem.js';
import { startTandem } from '../helpers/tandem.js';

const run = promisify(execFile);

async function roundTrip(
  url: string,
  options: mqtt.IClientOptions = {},
  topic = 't/echo',
): Promise<string> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, ...options });
  try {
    const got = new Promise<string>((resolve) =>
      client.on('message', (_topic, payload) => resolve(payload.toString())),
    );
    await client.subscribeAsync(topic, { qos: 1 });
    await client.publishAsync(topic, `via ${url.split(':')[0]}`, { qos: 1 });
    return await got;
  } finally {
    await client.endAsync();
  }
}

function connectError(url: string, options: mqtt.IClientOptions): Promise<number | undefined> {
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

const port = (tandem: Tandem, name: Parameters<Tandem['address']>[0]) => tandem.address(name)!.port;

describe('device listeners', () => {
  test('MQTT over TCP, TLS (generated development certificate) and WebSocket reach one broker', async (t) => {
    const tandem = await startTandem(t);
    assert.equal(await roundTrip(`mqtt://127.0.0.1:${port(tandem, 'mqtt')}`), 'via mqtt');
    const ca = readFileSync(join(tandem.config.dataDir, 'tls', 'dev-cert.pem'));
    assert.equal(
      await roundTrip(`mqtts://localhost:${port(tandem, 'mqtts')}`, {
        ca,
        rejectUnauthorized: true,
      }),
      'via mqtts',
    );
    assert.equal(
      await roundTrip(`ws://127.0.0.1:${port(tandem, 'ws')}/mqtt`, { protocolVersion: 5 }),
      'via ws',
    );
  });

  test('mosquitto_sub verifies the TLS listener against the generated certificate', async (t) => {
    const tandem = await startTandem(t);
    const cafile = join(tandem.config.dataDir, 'tls', 'dev-cert.pem');
    const sub = run('mosquitto_sub', [
      '-h',
      'localhost',
      '-p',
      String(port(tandem, 'mqtts')),
      '--cafile',
      cafile,
      '-t',
      'tls/t',
      '-C',
      '1',
      '-W',
      '10',
      '-V',
      'mqttv5',
    ]);
    // Publish until the subscriber has subscribed and received one message.
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port(tandem, 'mqtt')}`);
    let done = false;
    sub
      .finally(() => {
        done = true;
      })
      .catch(() => undefined);
    for (let i = 0; i < 100 && !done; i++) {
      await client.publishAsync('tls/t', 'hello over tls');
      await new Promise((r) => setTimeout(r, 50));
    }
    await client.endAsync();
    assert.equal((await sub).stdout.trim(), 'hello over tls');
  });

  test('the WebSocket listener refuses a plain HTTP request with 426', async (t) => {
    const tandem = await startTandem(t);
    const res = await fetch(`http://127.0.0.1:${port(tandem, 'ws')}/mqtt`);
    assert.equal(res.status, 426);
  });

  describe('secure by default: beyond loopback, devices authenticate against the registry', () => {
    const setup = async (t: Parameters<typeof startTandem>[0]) => {
      const tandem = await startTandem(t, { host: '0.0.0.0' });
      await tandem.store.devices.create({
        id: 'sensor-1',
        protocol: 'mqtt',
        credentials: { mqtt: { username: 'sensor-1', passwordHash: await hashPassword('pw-1') } },
      });
      return `mqtt://127.0.0.1:${port(tandem, 'mqtt')}`;
    };

    test('no credentials: CONNACK 0x87 Not authorized (MQTT 5.0 §3.2.2.2)', async (t) => {
      const url = await setup(t);
      assert.equal(await connectError(url, { protocolVersion: 5 }), 0x87);
    });

    test('no credentials on MQTT 3.1.1: return code 5 Not authorized (MQTT 3.1.1 §3.2.2.3)', async (t) => {
      const url = await setup(t);
      assert.equal(await connectError(url, { protocolVersion: 4 }), 5);
    });

    test('a wrong password: CONNACK 0x86 Bad User Name or Password', async (t) => {
      const url = await setup(t);
      const code = await connectError(url, {
        protocolVersion: 5,
        username: 'sensor-1',
        password: 'nope',
      });
      assert.equal(code, 0x86);
      assert.equal(
        await connectError(url, { protocolVersion: 5, username: 'ghost', password: 'pw-1' }),
        0x86,
      );
    });

    test('a device publishes and subscribes only in its own namespace (devices/%d/#)', async (t) => {
      const url = await setup(t);
      const client = await mqtt.connectAsync(url, {
        protocolVersion: 5,
        username: 'sensor-1',
        password: 'pw-1',
        reconnectPeriod: 0,
      });
      t.after(() => client.endAsync());
      const own = await client.subscribeAsync('devices/sensor-1/#', { qos: 1 });
      assert.equal(own[0]!.qos, 1);
      await assert.rejects(client.subscribeAsync('devices/#', { qos: 1 }), (err: Error) => {
        const suback = (err as Error & { packet?: { granted?: number[] } }).packet;
        assert.deepEqual(suback?.granted, [0x87], 'SUBACK 0x87 Not authorized (MQTT 5.0 §3.9.3)');
        return true;
      });
      const ok = (await client.publishAsync('devices/sensor-1/temp', '21', { qos: 1 })) as
        | { reasonCode?: number }
        | undefined;
      assert.equal(ok?.reasonCode ?? 0, 0);
      await assert.rejects(
        client.publishAsync('devices/other/temp', '21', { qos: 1 }),
        (err: Error) => {
          // PUBACK 0x87 Not authorized (MQTT 5.0 §3.4.2.1); MQTT.js rejects the publish with it.
          assert.equal((err as Error & { code?: number }).code, 0x87);
          return true;
        },
      );
    });

    test('repeated failures from one source are throttled with 0x9F', async (t) => {
      const url = await setup(t);
      for (let i = 0; i < 5; i++) {
        const bad = { protocolVersion: 5 as const, username: 'sensor-1', password: `bad-${i}` };
        assert.equal(await connectError(url, bad), 0x86);
      }
      assert.equal(
        await connectError(url, { protocolVersion: 5, username: 'sensor-1', password: 'bad' }),
        0x86,
      );
      // Locked out now: even the right password is refused, 0x9F Connection rate exceeded.
      assert.equal(
        await connectError(url, { protocolVersion: 5, username: 'sensor-1', password: 'pw-1' }),
        0x9f,
      );
    });

    test('deleting a device sends its MQTT 5 connection DISCONNECT 0x98 and ends its session', async (t) => {
      const tandem = await startTandem(t, { host: '0.0.0.0' });
      await tandem.devices.create({
        id: 'doomed',
        protocol: 'mqtt',
        credentials: { mqtt: { username: 'doomed', password: 'pw-doomed' } },
      });
      const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port(tandem, 'mqtt')}`, {
        protocolVersion: 5,
        clientId: 'doomed',
        username: 'doomed',
        password: 'pw-doomed',
        clean: false,
        properties: { sessionExpiryInterval: 3600 },
        reconnectPeriod: 0,
      });
      t.after(() => client.endAsync(true));
      const disconnect = new Promise<number | undefined>((resolve) =>
        client.on('disconnect', (packet) => resolve(packet.reasonCode)),
      );
      await tandem.devices.delete('doomed');
      assert.equal(await disconnect, 0x98, 'Administrative action (MQTT 5.0 §3.14.2.1)');
      assert.equal(tandem.mqtt.broker.isConnected('doomed'), false);
    });

    test('the device password connects', async (t) => {
      const url = await setup(t);
      assert.equal(
        await roundTrip(
          url,
          { protocolVersion: 5, username: 'sensor-1', password: 'pw-1' },
          'devices/sensor-1/echo',
        ),
        'via mqtt',
      );
    });
  });

  test('the CoAP listener answers a real CoAP client (libcoap)', async (t) => {
    const tandem = await startTandem(t);
    const { stdout, stderr } = await run('coap-client-openssl', [
      '-v',
      '7',
      '-B',
      '5',
      `coap://127.0.0.1:${port(tandem, 'coap')}/nothing-here`,
    ]);
    // No resource is registered at this path: 4.04 (RFC 7252 §5.9.2.5).
    assert.match(stdout + stderr, /4\.04/);
  });

  test('the CoAPS listener completes a DTLS PSK handshake with libcoap for a registered identity', async (t) => {
    const tandem = await startTandem(t);
    const key = 'secret-psk-key-1';
    await tandem.store.devices.create({
      id: 'dtls-dev',
      protocol: 'lwm2m',
      credentials: { psk: { identity: 'dtls-dev', key: Buffer.from(key) } },
    });
    tandem.psk.set('dtls-dev', 'dtls-dev', Buffer.from(key));
    const url = `coaps://127.0.0.1:${port(tandem, 'coaps')}/nothing-here`;
    const ok = await run('coap-client-openssl', [
      '-v',
      '7',
      '-B',
      '5',
      '-u',
      'dtls-dev',
      '-k',
      key,
      url,
    ]);
    assert.match(ok.stdout + ok.stderr, /4\.04/, 'the request went through the DTLS session');
    // coap-client exits 0 even when the handshake fails: read its output.
    const bad = await run('coap-client-openssl', [
      '-v',
      '7',
      '-B',
      '3',
      '-u',
      'dtls-dev',
      '-k',
      'wrong',
      url,
    ]);
    assert.doesNotMatch(bad.stdout + bad.stderr, /4\.04/);
  });
});
