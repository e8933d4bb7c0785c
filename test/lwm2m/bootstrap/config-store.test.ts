import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  bootstrapConfigFromJson,
  bootstrapConfigToJson,
  MemoryBootstrapConfigStore,
} from '../../../src/lwm2m/bootstrap/index.js';
import { bootstrapConfigStoreContract, PSK_ACCOUNT } from './config-store-contract.js';

bootstrapConfigStoreContract('memory', async () => new MemoryBootstrapConfigStore());

test('a configuration goes to JSON with keys in base64 and back', () => {
  const json = bootstrapConfigToJson(PSK_ACCOUNT) as { servers: Record<string, unknown>[] };
  assert.equal(json.servers[0]!.secretKey, 'AAECAwQFBgcICQoLDA0ODw==');
  assert.equal(json.servers[0]!.publicKeyOrIdentity, Buffer.from('dev-1').toString('base64'));
  assert.deepEqual(bootstrapConfigFromJson(JSON.parse(JSON.stringify(json))), PSK_ACCOUNT);
  assert.throws(() => bootstrapConfigFromJson({}), /servers must be a list/);
});
