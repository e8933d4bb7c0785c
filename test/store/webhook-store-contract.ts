import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { type Store, StoreConflictError } from '../../src/store/ports.js';
import { testOnStore } from './contract.js';

/**
 * The behaviour every backend's WebhookStore owes the hub (src/hub/webhooks.ts). Each backend's
 * test file runs it with a factory for a fresh, empty store.
 */
export function webhookStoreContract(backend: string, open: () => Promise<Store>): void {
  describe(`${backend} webhook store contract`, () => {
    const withStore = testOnStore(open);

    withStore('creates, reads, lists oldest first and deletes webhooks', async (store) => {
      const full = await store.webhooks.create({
        id: 'wh_1',
        url: 'https://example.com/hook?k=ü',
        events: ['data', 'online'],
        devices: ['dev1', 'dev2'],
        paths: ['/3303/0/5700'],
        secret: `whsec_${Buffer.alloc(32, 1).toString('base64')}`,
        description: 'the plant',
      });
      assert.deepEqual(
        { ...full, createdAt: 0 },
        {
          id: 'wh_1',
          url: 'https://example.com/hook?k=ü',
          events: ['data', 'online'],
          devices: ['dev1', 'dev2'],
          paths: ['/3303/0/5700'],
          secret: `whsec_${Buffer.alloc(32, 1).toString('base64')}`,
          description: 'the plant',
          createdAt: 0,
        },
      );
      assert.equal(typeof full.createdAt, 'number');
      const bare = await store.webhooks.create({ id: 'wh_2', url: 'http://127.0.0.1:9/' });
      assert.deepEqual(
        [bare.events, bare.devices, bare.paths, bare.description, 'secret' in bare],
        [[], [], [], '', false],
        'absent filters are empty lists, an absent secret stays absent',
      );
      assert.deepEqual(await store.webhooks.get('wh_1'), full);
      assert.equal(await store.webhooks.get('wh_3'), undefined);
      assert.deepEqual(
        (await store.webhooks.list()).map((w) => w.id),
        ['wh_1', 'wh_2'],
      );
      assert.equal(await store.webhooks.delete('wh_1'), true);
      assert.equal(await store.webhooks.delete('wh_1'), false);
      assert.deepEqual(
        (await store.webhooks.list()).map((w) => w.id),
        ['wh_2'],
      );
    });

    withStore('a duplicate id is a conflict', async (store) => {
      await store.webhooks.create({ id: 'wh_1', url: 'http://a/' });
      await assert.rejects(
        store.webhooks.create({ id: 'wh_1', url: 'http://b/' }),
        StoreConflictError,
      );
      assert.equal((await store.webhooks.get('wh_1'))?.url, 'http://a/');
    });
  });
}
