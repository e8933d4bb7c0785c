import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { tempDir } from '../helpers/tmp.js';
import {
  bootstrapConfigStoreContract,
  PSK_ACCOUNT,
} from '../lwm2m/bootstrap/config-store-contract.js';

bootstrapConfigStoreContract(
  'sqlite',
  async () => new SqliteStore({ dataDir: ':memory:' }).bootstrapConfigs,
);

test('bootstrap configurations survive a restart of the store', async (t) => {
  const dataDir = tempDir(t);
  const first = new SqliteStore({ dataDir });
  await first.bootstrapConfigs.put('sensor-*', PSK_ACCOUNT);
  await first.close();
  const second = new SqliteStore({ dataDir });
  t.after(() => second.close());
  assert.deepEqual(await second.bootstrapConfigs.get('sensor-9'), PSK_ACCOUNT);
});
