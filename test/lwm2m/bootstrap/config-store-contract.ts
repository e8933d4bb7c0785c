import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type BootstrapConfig,
  type BootstrapConfigStore,
  ConfigValidationError,
} from '../../../src/lwm2m/bootstrap/index.js';

export const PSK_ACCOUNT: BootstrapConfig = {
  servers: [
    {
      shortServerId: 101,
      uri: 'coaps://127.0.0.1:5684',
      securityMode: 'psk',
      publicKeyOrIdentity: Buffer.from('dev-1'),
      secretKey: Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex'),
      lifetime: 300,
    },
  ],
};

/** An OSCORE-only account with the client context of RFC 8613 Appendix C.1.1. */
export const OSCORE_ACCOUNT: BootstrapConfig = {
  servers: [
    {
      shortServerId: 5,
      uri: 'coap://127.0.0.1:5683',
      securityMode: 'nosec',
      lifetime: 60,
      oscore: {
        masterSecret: Buffer.from('0102030405060708090a0b0c0d0e0f10', 'hex'),
        senderId: Buffer.alloc(0),
        recipientId: Buffer.from([0x01]),
        aeadAlgorithm: 10,
        hmacAlgorithm: -10,
        masterSalt: Buffer.from('9e7ca92223786340', 'hex'),
      },
    },
  ],
};

/** What every BootstrapConfigStore owes the Bootstrap-Server and the API. */
export function bootstrapConfigStoreContract(
  backend: string,
  open: () => Promise<BootstrapConfigStore>,
): void {
  describe(`${backend} bootstrap configuration store`, () => {
    test('an exact endpoint wins over patterns, and the longest pattern over shorter ones', async () => {
      const store = await open();
      const withLifetime = (lifetime: number): BootstrapConfig => ({
        servers: [{ ...PSK_ACCOUNT.servers[0]!, lifetime }],
      });
      await store.put('*', withLifetime(1));
      await store.put('plant-*', withLifetime(2));
      await store.put('plant-a-*', withLifetime(3));
      await store.put('plant-a-7', withLifetime(4));
      const lifetime = async (ep: string) => (await store.get(ep))?.servers[0]?.lifetime;
      assert.equal(await lifetime('plant-a-7'), 4);
      assert.equal(await lifetime('plant-a-8'), 3);
      assert.equal(await lifetime('plant-b-1'), 2);
      assert.equal(await lifetime('x'), 1);
      assert.equal(await store.delete('*'), true);
      assert.equal(await store.delete('*'), false);
      assert.equal(await store.get('x'), undefined);
      assert.deepEqual((await store.list()).map((e) => e.key).sort(), [
        'plant-*',
        'plant-a-*',
        'plant-a-7',
      ]);
    });

    test('keys and identities come back byte for byte', async () => {
      const store = await open();
      await store.put('dev-1', { ...PSK_ACCOUNT, deleteFirst: false });
      assert.deepEqual(await store.get('dev-1'), { ...PSK_ACCOUNT, deleteFirst: false });
      await store.put('dev-2', OSCORE_ACCOUNT);
      assert.deepEqual(await store.get('dev-2'), OSCORE_ACCOUNT, 'the OSCORE context too');
    });

    test('a pattern character in an endpoint name is matched literally', async () => {
      const store = await open();
      await store.put('a.b*', PSK_ACCOUNT);
      assert.ok(await store.get('a.b-1'));
      assert.equal(await store.get('axb-1'), undefined, '. is not a wildcard');
    });

    test('an invalid configuration is refused naming the field', async () => {
      const store = await open();
      const base = PSK_ACCOUNT.servers[0]!;
      const cases: [Partial<typeof base>, RegExp][] = [
        [{ shortServerId: 0 }, /shortServerId must be 1-65534/],
        [{ shortServerId: 65535 }, /shortServerId must be 1-65534/],
        [{ uri: 'http://x' }, /uri must be a coap/],
        [{ securityMode: 'nosec' }, /does not fit the URI scheme/],
        [{ secretKey: Buffer.alloc(0) }, /PSK mode needs an identity and a key/],
        [{ lifetime: 0 }, /lifetime must be a positive/],
        [
          { oscore: { ...OSCORE_ACCOUNT.servers[0]!.oscore!, masterSecret: Buffer.alloc(8) } },
          /oscore.masterSecret must be at least 16 bytes/,
        ],
        [
          { oscore: { ...OSCORE_ACCOUNT.servers[0]!.oscore!, aeadAlgorithm: 0 } },
          /aeadAlgorithm 0 is not a COSE AEAD algorithm/,
        ],
        [
          // RFC 8613 §3.3: AES-CCM-16-64-128 has a 13-byte nonce, so IDs of at most 7 bytes.
          { oscore: { ...OSCORE_ACCOUNT.servers[0]!.oscore!, senderId: Buffer.alloc(8) } },
          /senderId is 8 bytes; AEAD 10 allows at most 7/,
        ],
      ];
      for (const [change, message] of cases) {
        await assert.rejects(
          store.put('x', { servers: [{ ...base, ...change }] }),
          (err: unknown) => err instanceof ConfigValidationError && message.test(err.message),
        );
      }
      await assert.rejects(
        store.put('x', { servers: [base, base] }),
        /shortServerId 101 is used twice/,
      );
      assert.equal(await store.get('x'), undefined, 'nothing refused was stored');
    });
  });
}
