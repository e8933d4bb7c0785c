import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { describe, type TestContext, test } from 'node:test';
import { promisify } from 'node:util';
import { Code } from '../../src/coap/code.js';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { UdpTransport, udpPeer } from '../../src/coap/udp-transport.js';
import { DtlsClientTransport } from '../../src/dtls/client-transport.js';
import type { DtlsServerTransport } from '../../src/dtls/server-transport.js';
import {
  DeviceObject,
  Lwm2mClient,
  Lwm2mClientError,
  SecurityObject,
  type SensorInstance,
  ServerObject,
  TemperatureObject,
} from '../../src/lwm2m/client/index.js';
import type { Lwm2mSingleResource } from '../../src/lwm2m/node/lwm2m-node.js';
import type { Tandem } from '../../src/server/tandem.js';
import type { DatagramPeer, DatagramTransport } from '../../src/transport/datagram.js';
import { startTandem } from '../helpers/tandem.js';

const run = promisify(execFile);
const PSK_KEY = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');

function objects(uri: string) {
  return [
    new SecurityObject([{ serverUri: uri, shortServerId: 1 }]),
    new ServerObject([{ lifetime: 300, shortServerId: 1 }]),
    new DeviceObject({ manufacturer: 'Tandem Labs', serialNumber: 'SN-7' }),
    new TemperatureObject(),
  ];
}

/** Our LwM2M client library over the given transport, closed when the test ends. */
function client(t: TestContext, transport: DatagramTransport, name: string, server: DatagramPeer) {
  const endpoint = new CoapEndpoint(transport);
  const c = new Lwm2mClient({
    endpoint,
    server,
    name,
    objects: objects(`${transport.scheme}://127.0.0.1:${server.port}`),
  });
  t.after(async () => {
    c.close();
    await endpoint.close();
  });
  return c;
}

async function udpClient(t: TestContext, tandem: Tandem, name: string) {
  const transport = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
  return client(t, transport, name, udpPeer('127.0.0.1', tandem.address('coap')!.port));
}

function dtlsClient(
  t: TestContext,
  tandem: Tandem,
  name: string,
  psk: { identity: string; key: Buffer },
) {
  const port = tandem.address('coaps')!.port;
  const transport = new DtlsClientTransport({ host: '127.0.0.1', port, psk });
  return client(t, transport, name, transport.peer);
}

async function pskDevice(tandem: Tandem, id: string, key = PSK_KEY) {
  await tandem.store.devices.create({
    id,
    protocol: 'lwm2m',
    credentials: { psk: { identity: id, key } },
  });
  tandem.psk.set(id, id, key);
}

const refusedWith = (code: number) => (err: unknown) =>
  err instanceof Lwm2mClientError && err.coapCode === code;

describe('LwM2M server in Tandem', () => {
  test('a device registers over CoAP and is read through the server (loopback development mode)', async (t) => {
    const tandem = await startTandem(t);
    const device = await udpClient(t, tandem, 'dev-udp');
    await device.register();
    const reg = await tandem.lwm2m.server.getRegistration('dev-udp');
    assert.ok(reg, 'registered');
    const read = await tandem.lwm2m.server.read('dev-udp', { path: '/3/0/0' });
    assert.equal(read.code, Code.Content);
    assert.equal((read.content as Lwm2mSingleResource).value.value, 'Tandem Labs');
  });

  test('beyond loopback, a NoSec registration is refused with 4.03 (secure by default)', async (t) => {
    const tandem = await startTandem(t, { host: '0.0.0.0' });
    const device = await udpClient(t, tandem, 'dev-nosec');
    await assert.rejects(device.register(), refusedWith(Code.Forbidden));
    assert.equal(await tandem.lwm2m.server.getRegistration('dev-nosec'), undefined);
  });

  test('a device registers over DTLS with its PSK and is managed through its session', async (t) => {
    const tandem = await startTandem(t, { host: '0.0.0.0' });
    await pskDevice(tandem, 'dev-psk');
    const device = dtlsClient(t, tandem, 'dev-psk', { identity: 'dev-psk', key: PSK_KEY });
    await device.register();
    const reg = await tandem.lwm2m.server.getRegistration('dev-psk');
    assert.deepEqual(reg?.peer.identity, { kind: 'psk', identity: 'dev-psk' });
    const read = await tandem.lwm2m.server.read('dev-psk', { path: '/3/0/2' });
    assert.equal(read.code, Code.Content);
    assert.equal((read.content as Lwm2mSingleResource).value.value, 'SN-7');
  });

  test('an endpoint name that does not belong to the PSK identity is refused with 4.03 (LwM2M-TS-Core 1.1 §6.2.1)', async (t) => {
    const tandem = await startTandem(t);
    await pskDevice(tandem, 'dev-a');
    await pskDevice(tandem, 'dev-b');
    const impostor = dtlsClient(t, tandem, 'dev-b', { identity: 'dev-a', key: PSK_KEY });
    await assert.rejects(impostor.register(), refusedWith(Code.Forbidden));
    assert.equal(await tandem.lwm2m.server.getRegistration('dev-b'), undefined);
  });

  test('libcoap registers over DTLS with a PSK (coap-client-openssl)', async (t) => {
    const tandem = await startTandem(t, { host: '0.0.0.0' });
    // coap-client takes the key as text (-k).
    const key = 'libcoap-secret-1';
    await pskDevice(tandem, 'libcoap-dev', Buffer.from(key));
    const url = `coaps://127.0.0.1:${tandem.address('coaps')!.port}/rd?ep=libcoap-dev&lt=60&lwm2m=1.1&b=U`;
    const { stdout, stderr } = await run('coap-client-openssl', [
      '-v',
      '7',
      '-B',
      '5',
      '-u',
      'libcoap-dev',
      '-k',
      key,
      '-m',
      'post',
      '-t',
      '40',
      '-e',
      '</1/0>,</3/0>',
      url,
    ]);
    // coap-client exits 0 even when the handshake fails: read the response it printed.
    assert.match(stdout + stderr, /2\.01/);
    const reg = await tandem.lwm2m.server.getRegistration('libcoap-dev');
    assert.ok(reg, 'registered');
    assert.deepEqual(reg.peer.identity, { kind: 'psk', identity: 'libcoap-dev' });
  });

  test('notifications and Send are stored as telemetry, one point per resource path', async (t) => {
    const tandem = await startTandem(t);
    const device = await udpClient(t, tandem, 'dev-data');
    await device.register();
    const observed = await tandem.lwm2m.server.observe('dev-data', { path: '/3303/0/5700' });
    assert.equal(observed.code, Code.Content);
    const notified = once(tandem.lwm2m.server, 'notification');
    const sensor = device.objects.get(3303)!.instances.get(0) as SensorInstance;
    sensor.measure(23.25);
    await notified;
    const points = await tandem.store.telemetry.query({
      deviceId: 'dev-data',
      path: '/3303/0/5700',
    });
    assert.equal(points[0]?.value, 23.25);

    // Send (LwM2M-TS-Core 1.1 §6.4.4) of the Device object's manufacturer and the sensor.
    const sent = once(tandem.lwm2m.server, 'send');
    assert.equal(await device.send(['/3/0/0', '/3303/0/5700']), Code.Changed);
    await sent;
    const manufacturer = await tandem.store.telemetry.query({
      deviceId: 'dev-data',
      path: '/3/0/0',
    });
    assert.equal(manufacturer[0]?.value, 'Tandem Labs');
  });

  test('deleting a device closes the DTLS sessions of its PSK at once', async (t) => {
    const tandem = await startTandem(t, { host: '0.0.0.0' });
    await tandem.devices.create({
      id: 'dev-gone',
      protocol: 'lwm2m',
      credentials: { psk: { identity: 'dev-gone', key: PSK_KEY.toString('hex') } },
    });
    const device = dtlsClient(t, tandem, 'dev-gone', { identity: 'dev-gone', key: PSK_KEY });
    await device.register();
    const dtls = tandem.coap.listeners.get('coaps')!.transport as DtlsServerTransport;
    const closedBefore = dtls.stats.sessionsClosed;
    await tandem.devices.delete('dev-gone');
    assert.equal(dtls.stats.sessionsClosed, closedBefore + 1, 'its session was closed');
    assert.equal(await tandem.lwm2m.server.getRegistration('dev-gone'), undefined);
  });
});
