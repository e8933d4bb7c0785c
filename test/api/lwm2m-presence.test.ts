import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { CoapTimeoutError } from '../../src/coap/errors.js';
import { DtlsClientTransport } from '../../src/dtls/client-transport.js';
import {
  DeviceObject,
  Lwm2mClient,
  SecurityObject,
  ServerObject,
} from '../../src/lwm2m/client/index.js';
import { startTandem } from '../helpers/tandem.js';

const ADMIN = 'lwm2m-admin-token-0123456789abcdef012345678';
const KEY = '000102030405060708090a0b0c0d0e0f';

describe('LwM2M devices in the registry', () => {
  test('a device created through the API registers over DTLS and is online; DELETE removes its registration and it cannot register again', async (t) => {
    const tandem = await startTandem(t, {}, { adminToken: ADMIN });
    const http = `http://127.0.0.1:${tandem.address('http')!.port}`;
    const headers = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
    const created = await fetch(`${http}/api/devices`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        id: 'boiler-9',
        protocol: 'lwm2m',
        credentials: { psk: { identity: 'boiler-9', key: KEY } },
      }),
    });
    assert.equal(created.status, 201);

    const port = tandem.address('coaps')!.port;
    const transport = new DtlsClientTransport({
      host: '127.0.0.1',
      port,
      psk: { identity: 'boiler-9', key: Buffer.from(KEY, 'hex') },
    });
    const endpoint = new CoapEndpoint(transport);
    const device = new Lwm2mClient({
      endpoint,
      server: transport.peer,
      name: 'boiler-9',
      // Short: the Register after the deletion is expected to go unanswered.
      timeoutMs: 5000,
      objects: [
        new SecurityObject([{ serverUri: `coaps://127.0.0.1:${port}`, shortServerId: 1 }]),
        new ServerObject([{ lifetime: 300, shortServerId: 1 }]),
        new DeviceObject({ manufacturer: 'Tandem Labs', serialNumber: 'B9' }),
      ],
    });
    t.after(async () => {
      device.close();
      await endpoint.close();
    });
    const online = tandem.devices.events.next('online');
    await device.register();
    assert.deepEqual(await online, { id: 'boiler-9', protocol: 'lwm2m' });
    const shown = (await (await fetch(`${http}/api/devices/boiler-9`, { headers })).json()) as {
      online: boolean;
    };
    assert.equal(shown.online, true);

    const offline = tandem.devices.events.next('offline');
    const res = await fetch(`${http}/api/devices/boiler-9`, { method: 'DELETE', headers });
    assert.equal(res.status, 204);
    await offline;
    assert.equal(await tandem.lwm2m.server.getRegistration('boiler-9'), undefined);
    // Its PSK is forgotten and its DTLS session closed: the client's new handshake is refused
    // (unknown_psk_identity), so its Register never reaches the server.
    assert.equal(tandem.psk.key('boiler-9'), undefined);
    await assert.rejects(device.register(), (err: unknown) => err instanceof CoapTimeoutError);
    assert.match(String(transport.client.lastError?.message), /unknown_psk_identity|psk/i);
    assert.equal(await tandem.lwm2m.server.getRegistration('boiler-9'), undefined);
  });
});
