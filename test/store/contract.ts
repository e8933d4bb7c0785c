import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Store, StoreConflictError } from '../../src/store/ports.js';

/** A test that runs on a fresh store from `open` and closes it, whatever happens. */
export const testOnStore =
  (open: () => Promise<Store>) => (name: string, fn: (store: Store) => Promise<void>) =>
    test(name, async () => {
      const store = await open();
      try {
        await fn(store);
      } finally {
        await store.close();
      }
    });

/**
 * The behaviour every Store backend owes its callers. Each backend's test file runs this suite
 * with a factory for a fresh, empty store.
 */
export function storeContract(backend: string, open: () => Promise<Store>): void {
  describe(`${backend} store contract`, () => {
    const withStore = testOnStore(open);

    withStore('creates, reads, lists, updates and deletes a device', async (store) => {
      const created = await store.devices.create({
        id: 'dev1',
        protocol: 'lwm2m',
        tags: ['plant-a', 'boiler'],
        metadata: { site: 'north' },
      });
      assert.equal(created.id, 'dev1');
      assert.deepEqual(created.tags, ['plant-a', 'boiler']);
      assert.deepEqual(await store.devices.get('dev1'), created);
      await store.devices.create({ id: 'dev2', protocol: 'mqtt', tags: ['boiler'] });
      assert.equal(await store.devices.count(), 2);

      const updated = await store.devices.update('dev1', { tags: ['plant-b'], metadata: { a: 1 } });
      assert.deepEqual(updated?.tags, ['plant-b']);
      assert.deepEqual(updated?.metadata, { a: 1 });
      assert.equal(await store.devices.update('missing', { tags: [] }), undefined);

      assert.equal(await store.devices.delete('dev1'), true);
      assert.equal(await store.devices.delete('dev1'), false);
      assert.equal(await store.devices.get('dev1'), undefined);
    });

    withStore('filters devices by protocol and tag and pages by id', async (store) => {
      for (let i = 0; i < 25; i++) {
        await store.devices.create({
          id: `d${String(i).padStart(2, '0')}`,
          protocol: i % 2 ? 'mqtt' : 'lwm2m',
          tags: i % 5 === 0 ? ['five'] : [],
        });
      }
      assert.equal((await store.devices.list({ protocol: 'mqtt', limit: 100 })).length, 12);
      assert.deepEqual(
        (await store.devices.list({ tag: 'five' })).map((d) => d.id),
        ['d00', 'd05', 'd10', 'd15', 'd20'],
      );
      const first = await store.devices.list({ limit: 10 });
      const second = await store.devices.list({ limit: 10, after: first.at(-1)!.id });
      assert.equal(first[0]!.id, 'd00');
      assert.equal(second[0]!.id, 'd10');
      assert.equal((await store.devices.list({ after: 'd20' })).length, 4);
    });

    withStore('a duplicate id or credential identity is a conflict', async (store) => {
      await store.devices.create({
        id: 'a',
        protocol: 'lwm2m',
        credentials: { psk: { identity: 'id-a', key: Buffer.from('00', 'hex') } },
      });
      await assert.rejects(store.devices.create({ id: 'a', protocol: 'mqtt' }), StoreConflictError);
      await assert.rejects(
        store.devices.create({
          id: 'b',
          protocol: 'lwm2m',
          credentials: { psk: { identity: 'id-a', key: Buffer.from('01', 'hex') } },
        }),
        (err: unknown) => err instanceof StoreConflictError && /psk identity/.test(err.message),
      );
      assert.equal(await store.devices.get('b'), undefined, 'a failed create leaves nothing');
    });

    withStore('credentials are found by their identity and go with the device', async (store) => {
      const key = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
      await store.devices.create({
        id: 'dev',
        protocol: 'mqtt',
        credentials: {
          mqtt: { username: 'user', passwordHash: 'scrypt$x' },
          psk: { identity: 'dev-psk', key },
          rpk: { publicKey: Buffer.from('3059', 'hex') },
          x509: { certificate: '-----BEGIN CERTIFICATE-----', subject: 'CN=dev' },
        },
      });
      assert.deepEqual(await store.devices.findByMqttUsername('user'), {
        deviceId: 'dev',
        passwordHash: 'scrypt$x',
      });
      assert.deepEqual(await store.devices.findByPskIdentity('dev-psk'), { deviceId: 'dev', key });
      assert.deepEqual(await store.devices.pskCredentials(), [
        { deviceId: 'dev', identity: 'dev-psk', key },
      ]);
      const creds = await store.devices.credentials('dev');
      assert.deepEqual(creds?.rpk?.publicKey, Buffer.from('3059', 'hex'));
      assert.equal(creds?.x509?.subject, 'CN=dev');
      assert.deepEqual(await store.devices.findByX509Subject('CN=dev'), { deviceId: 'dev' });
      assert.equal(await store.devices.findByX509Subject('CN=other'), undefined);
      assert.deepEqual(await store.devices.findByRawPublicKey(Buffer.from('3059', 'hex')), {
        deviceId: 'dev',
      });
      assert.equal(await store.devices.findByRawPublicKey(Buffer.from('305a', 'hex')), undefined);

      await store.devices.update('dev', { credentials: { mqtt: null } });
      assert.equal(await store.devices.findByMqttUsername('user'), undefined);
      assert.ok((await store.devices.credentials('dev'))?.psk);

      await store.devices.delete('dev');
      assert.equal(await store.devices.findByPskIdentity('dev-psk'), undefined);
      assert.equal(await store.devices.findByRawPublicKey(Buffer.from('3059', 'hex')), undefined);
      assert.equal(await store.devices.findByX509Subject('CN=dev'), undefined);
      assert.equal(await store.devices.credentials('dev'), undefined);
    });

    withStore('telemetry is queried newest first by device, path and time range', async (store) => {
      store.telemetry.append([
        { deviceId: 'd', path: '/3303/0/5700', ts: 1000, value: 20.5 },
        { deviceId: 'd', path: '/3303/0/5700', ts: 2000, value: 21 },
        { deviceId: 'd', path: '/3/0/0', ts: 1500, value: 'Acme' },
        { deviceId: 'e', path: '/3303/0/5700', ts: 1500, value: true },
      ]);
      const all = await store.telemetry.query({ deviceId: 'd' });
      assert.deepEqual(
        all.map((p) => p.ts),
        [2000, 1500, 1000],
      );
      const temps = await store.telemetry.query({
        deviceId: 'd',
        path: '/3303/0/5700',
        from: 1500,
      });
      assert.deepEqual(temps, [{ deviceId: 'd', path: '/3303/0/5700', ts: 2000, value: 21 }]);
      assert.equal((await store.telemetry.query({ deviceId: 'd', to: 1200 })).length, 1);
      assert.equal((await store.telemetry.query({ deviceId: 'd', limit: 2 })).length, 2);
    });

    withStore(
      'API tokens are found by their hash, listed oldest first and revoked',
      async (store) => {
        const hash = (n: number) => Buffer.alloc(32, n);
        const a = await store.tokens.create({ id: 'a', role: 'admin', hash: hash(1) });
        assert.deepEqual(
          { id: a.id, role: a.role, description: a.description },
          { id: 'a', role: 'admin', description: '' },
        );
        await store.tokens.create({ id: 'b', role: 'read-only', description: 'ci', hash: hash(2) });
        assert.equal((await store.tokens.findByHash(hash(2)))?.id, 'b');
        assert.equal(await store.tokens.findByHash(hash(3)), undefined);
        await assert.rejects(
          store.tokens.create({ id: 'a', role: 'admin', hash: hash(4) }),
          StoreConflictError,
        );
        await assert.rejects(
          store.tokens.create({ id: 'c', role: 'admin', hash: hash(1) }),
          StoreConflictError,
        );
        assert.deepEqual(
          (await store.tokens.list()).map((t) => t.id),
          ['a', 'b'],
        );
        const replaced = await store.tokens.put({ id: 'a', role: 'operator', hash: hash(5) });
        assert.equal(replaced.role, 'operator');
        assert.equal(await store.tokens.findByHash(hash(1)), undefined, 'put replaces the secret');
        assert.equal((await store.tokens.findByHash(hash(5)))?.id, 'a');
        assert.equal(await store.tokens.delete('a'), true);
        assert.equal(await store.tokens.delete('a'), false);
        assert.equal(await store.tokens.findByHash(hash(5)), undefined);
      },
    );

    withStore('flush leaves nothing pending and health reports ok', async (store) => {
      store.telemetry.append([{ deviceId: 'd', path: '/1/0/1', ts: 1, value: null }]);
      await store.flush();
      assert.equal(store.telemetry.pending, 0);
      assert.equal(store.health().ok, true);
    });
  });
}
