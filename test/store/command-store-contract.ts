import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { type CommandRecord, type Store, StoreConflictError } from '../../src/store/ports.js';
import { testOnStore } from './contract.js';

/**
 * The behaviour every backend's CommandStore owes the hub's command queue
 * (src/hub/commands/queue.ts). Each backend's test file runs it with a fresh, empty store.
 */
export function commandStoreContract(backend: string, open: () => Promise<Store>): void {
  describe(`${backend} command store contract`, () => {
    const withStore = testOnStore(open);

    const record = (id: string, deviceId: string, createdAt: number): CommandRecord => ({
      id,
      deviceId,
      command: { op: 'write', path: '/3/0/13', value: 1700000000 },
      status: 'queued',
      createdAt,
      updatedAt: createdAt,
      expiresAt: createdAt + 60_000,
    });

    withStore('keeps a command as given, and refuses a second one with its id', async (store) => {
      const r = { ...record('c1', 'dev1', 1000), by: 'tok1' };
      await store.commands.create(r);
      assert.deepEqual(await store.commands.get('c1'), r);
      assert.equal(await store.commands.get('c2'), undefined);
      await assert.rejects(store.commands.create(record('c1', 'dev2', 2000)), StoreConflictError);
    });

    withStore('updates the status and keeps the outcome once set', async (store) => {
      await store.commands.create(record('c1', 'dev1', 1000));
      const sent = await store.commands.update('c1', { status: 'sent', updatedAt: 1500 });
      assert.equal(sent?.status, 'sent');
      assert.equal(sent?.updatedAt, 1500);
      assert.equal(sent?.outcome, undefined);
      const done = await store.commands.update('c1', {
        status: 'succeeded',
        updatedAt: 1600,
        outcome: { status: 204 },
      });
      assert.deepEqual(done?.outcome, { status: 204 });
      assert.equal(
        await store.commands.update('missing', { status: 'sent', updatedAt: 1 }),
        undefined,
      );
    });

    withStore("lists a device's commands newest first, up to the limit", async (store) => {
      for (let i = 0; i < 5; i++) await store.commands.create(record(`c${i}`, 'dev1', 1000 + i));
      await store.commands.create(record('other', 'dev2', 5000));
      assert.deepEqual(
        (await store.commands.list('dev1', 3)).map((c) => c.id),
        ['c4', 'c3', 'c2'],
      );
      assert.deepEqual(await store.commands.list('nobody', 10), []);
    });

    withStore(
      'lists the unfinished commands oldest first, and prunes only finished old ones',
      async (store) => {
        await store.commands.create(record('queued', 'dev1', 1000));
        await store.commands.create(record('sent', 'dev1', 900));
        await store.commands.update('sent', { status: 'sent', updatedAt: 950 });
        for (const [id, status] of [
          ['ok', 'succeeded'],
          ['ko', 'failed'],
          ['late', 'expired'],
          ['no', 'cancelled'],
        ] as const) {
          await store.commands.create(record(id, 'dev1', 800));
          await store.commands.update(id, { status, updatedAt: 2000 });
        }
        await store.commands.create(record('recent', 'dev1', 800));
        await store.commands.update('recent', { status: 'succeeded', updatedAt: 4000 });
        assert.deepEqual(
          (await store.commands.unfinished()).map((c) => c.id),
          ['sent', 'queued'],
        );
        assert.equal(await store.commands.prune(3000), 4);
        assert.deepEqual((await store.commands.list('dev1', 10)).map((c) => c.id).sort(), [
          'queued',
          'recent',
          'sent',
        ]);
      },
    );
  });
}
