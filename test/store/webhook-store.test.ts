import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { tempDir } from '../helpers/tmp.js';
import { webhookStoreContract } from './webhook-store-contract.js';

webhookStoreContract('sqlite (memory)', async () => new SqliteStore({ dataDir: ':memory:' }));

test('sqlite: webhooks survive reopening the file (migration 6)', async (t) => {
  const dir = tempDir(t);
  const first = new SqliteStore({ dataDir: dir });
  const created = await first.webhooks.create({ id: 'wh_1', url: 'http://a/', events: ['data'] });
  await first.close();
  const again = new SqliteStore({ dataDir: dir });
  t.after(() => again.close());
  assert.deepEqual(await again.webhooks.list(), [created]);
});
