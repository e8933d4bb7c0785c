import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { type Store, StoreConflictError } from '../../src/store/ports.js';
import { testOnStore } from './contract.js';

/**
 * The behaviour every backend's ProfileStore owes the hub (src/hub/profile-service.ts). Each
 * backend's test file runs it with a fresh, empty store.
 */
export function profileStoreContract(backend: string, open: () => Promise<Store>): void {
  describe(`${backend} profile store contract`, () => {
    const withStore = testOnStore(open);

    const mappings = [
      { topic: 'plant/+/temperature', path: '/3303/0/5700' },
      { topic: 'devices/%d/state', path: '/3/0/9', field: 'battery' },
    ];

    withStore('creates, replaces, lists by id and deletes profiles', async (store) => {
      const first = await store.profiles.put({ id: 'plant', description: 'Plant', mappings });
      assert.equal(first.created, true);
      assert.deepEqual(first.profile.mappings, mappings);
      assert.equal(first.profile.description, 'Plant');
      const again = await store.profiles.put({ id: 'plant', description: 'v2', mappings: [] });
      assert.equal(again.created, false);
      assert.equal(again.profile.description, 'v2');
      assert.deepEqual(again.profile.mappings, []);
      assert.equal(again.profile.createdAt, first.profile.createdAt);
      await store.profiles.put({ id: 'boiler', description: '', mappings });
      assert.deepEqual(
        (await store.profiles.list()).map((p) => p.id),
        ['boiler', 'plant'],
      );
      assert.equal((await store.profiles.get('boiler'))?.mappings.length, 2);
      assert.equal(await store.profiles.get('nope'), undefined);
      assert.equal(await store.profiles.delete('boiler'), true);
      assert.equal(await store.profiles.delete('boiler'), false);
    });

    withStore(
      'assigns a profile to a device; a profile in use cannot be deleted',
      async (store) => {
        await store.devices.create({ id: 'dev1', protocol: 'mqtt' });
        await store.profiles.put({ id: 'plant', description: '', mappings });
        await store.profiles.assign('dev1', 'plant');
        assert.equal(await store.profiles.profileOf('dev1'), 'plant');
        await assert.rejects(store.profiles.delete('plant'), StoreConflictError);
        await assert.rejects(store.profiles.assign('dev1', 'nope'), StoreConflictError);
        await assert.rejects(store.profiles.assign('ghost', 'plant'), StoreConflictError);
        await store.profiles.assign('dev1', null);
        assert.equal(await store.profiles.profileOf('dev1'), undefined);
        assert.equal(await store.profiles.delete('plant'), true);
      },
    );

    withStore('deleting a device forgets its profile', async (store) => {
      await store.devices.create({ id: 'dev1', protocol: 'mqtt' });
      await store.profiles.put({ id: 'plant', description: '', mappings });
      await store.profiles.assign('dev1', 'plant');
      await store.devices.delete('dev1');
      assert.equal(await store.profiles.profileOf('dev1'), undefined);
      assert.equal(await store.profiles.delete('plant'), true);
    });
  });
}
