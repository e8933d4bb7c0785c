import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Code } from '../../src/coap/code.js';
import type { Tandem } from '../../src/server/tandem.js';
import { allRegistered, names, startTandemAndFleet, until } from './helpers.js';

const KEY = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

/** Devices `<prefix>0..` in the registry, with the PSK identity of the same name. */
async function provision(tandem: Tandem, prefix: string, count: number): Promise<void> {
  for (const id of names(prefix, 0, count)) {
    await tandem.store.devices.create({
      id,
      protocol: 'lwm2m',
      credentials: { psk: { identity: id, key: KEY } },
    });
    tandem.psk.set(id, id, KEY);
  }
}

describe('simulated devices over DTLS and through the Bootstrap-Server', () => {
  test('devices register over DTLS with identity <psk-prefix><i> and the fleet key', async (t) => {
    const { tandem, fleet } = await startTandemAndFleet(
      t,
      (tandem) => ({
        lwm2m: 4,
        lwm2mUrl: `coaps://127.0.0.1:${tandem.address('coaps')!.port}`,
        endpointPrefix: 'psk-',
        pskPrefix: 'psk-',
        pskKey: KEY,
      }),
      {},
      (tandem) => provision(tandem, 'psk-', 4),
    );
    await allRegistered(tandem, 'psk-', 4);
    const reg = await tandem.lwm2m.server.getRegistration('psk-3');
    assert.deepEqual(reg!.peer.identity, { kind: 'psk', identity: 'psk-3' });
    const read = await tandem.lwm2m.server.read('psk-3', { path: '/3303/0/5700' });
    assert.equal(read.code, Code.Content);
    const summary = await fleet.stop();
    assert.equal(summary.lwm2m.deregistrations, 4);
    assert.equal(summary.errors.count, 0, summary.errors.samples.join('\n'));
  });

  test('a device with a wrong key does not register, and the fleet counts the error', async (t) => {
    const { tandem, fleet } = await startTandemAndFleet(
      t,
      (tandem) => ({
        lwm2m: 1,
        lwm2mUrl: `coaps://127.0.0.1:${tandem.address('coaps')!.port}`,
        endpointPrefix: 'bad-',
        pskPrefix: 'bad-',
        pskKey: Buffer.from('ffff', 'hex'),
        requestTimeoutMs: 1000,
      }),
      {},
      (tandem) => provision(tandem, 'bad-', 1),
    );
    await until('an error', () => fleet.counters.errors >= 1);
    assert.equal(await tandem.lwm2m.server.getRegistration('bad-0'), undefined);
  });

  test('devices bootstrap over CoAP and register where the Bootstrap-Server says (LwM2M 1.0 §5.2.7)', async (t) => {
    const { tandem, fleet } = await startTandemAndFleet(
      t,
      (tandem) => ({
        lwm2m: 3,
        lwm2mUrl: undefined,
        bootstrapUrl: `coap://127.0.0.1:${tandem.address('bootstrap')!.port}`,
        endpointPrefix: 'boot-',
      }),
      {},
      (tandem) =>
        tandem.bootstrap.configs.put('boot-*', {
          servers: [
            {
              shortServerId: 1,
              uri: `coap://127.0.0.1:${tandem.address('coap')!.port}`,
              securityMode: 'nosec',
              lifetime: 77,
            },
          ],
        }),
    );
    await allRegistered(tandem, 'boot-', 3);
    const reg = await tandem.lwm2m.server.getRegistration('boot-2');
    assert.equal(reg!.lifetime, 77, 'the lifetime the Bootstrap-Server wrote');
    assert.equal(fleet.counters.bootstraps, 3);
  });

  test('devices bootstrap over DTLS and register over DTLS with the PSK written to them', async (t) => {
    const { tandem, fleet } = await startTandemAndFleet(
      t,
      (tandem) => ({
        lwm2m: 2,
        lwm2mUrl: undefined,
        bootstrapUrl: `coaps://127.0.0.1:${tandem.address('bootstrapDtls')!.port}`,
        endpointPrefix: 'bsd-',
        pskPrefix: 'bsd-',
        pskKey: KEY,
      }),
      {},
      async (tandem) => {
        await provision(tandem, 'bsd-', 2);
        for (const id of names('bsd-', 0, 2)) {
          await tandem.bootstrap.configs.put(id, {
            servers: [
              {
                shortServerId: 1,
                uri: `coaps://127.0.0.1:${tandem.address('coaps')!.port}`,
                securityMode: 'psk',
                publicKeyOrIdentity: Buffer.from(id),
                secretKey: KEY,
                lifetime: 120,
              },
            ],
          });
        }
      },
    );
    await allRegistered(tandem, 'bsd-', 2);
    const reg = await tandem.lwm2m.server.getRegistration('bsd-1');
    assert.deepEqual(reg!.peer.identity, { kind: 'psk', identity: 'bsd-1' });
    assert.equal(fleet.counters.bootstraps, 2);
  });
});
