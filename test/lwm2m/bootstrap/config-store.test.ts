import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  bootstrapConfigFromJson,
  bootstrapConfigToJson,
  MemoryBootstrapConfigStore,
} from '../../../src/lwm2m/bootstrap/index.js';
import {
  bootstrapConfigStoreContract,
  OSCORE_ACCOUNT,
  PSK_ACCOUNT,
} from './config-store-contract.js';

bootstrapConfigStoreContract('memory', async () => new MemoryBootstrapConfigStore());

test('a configuration goes to JSON with keys in base64 and back', () => {
  const json = bootstrapConfigToJson(PSK_ACCOUNT) as { servers: Record<string, unknown>[] };
  assert.equal(json.servers[0]!.secretKey, 'AAECAwQFBgcICQoLDA0ODw==');
  assert.equal(json.servers[0]!.publicKeyOrIdentity, Buffer.from('dev-1').toString('base64'));
  assert.deepEqual(bootstrapConfigFromJson(JSON.parse(JSON.stringify(json))), PSK_ACCOUNT);
  assert.throws(() => bootstrapConfigFromJson({}), /servers must be a list/);
});

test('an OSCORE context goes to JSON in hex and back; bad hex is refused', () => {
  const json = bootstrapConfigToJson(OSCORE_ACCOUNT) as {
    servers: { oscore: Record<string, unknown> }[];
  };
  assert.deepEqual(json.servers[0]!.oscore, {
    masterSecret: '0102030405060708090a0b0c0d0e0f10',
    senderId: '',
    recipientId: '01',
    aeadAlgorithm: 10,
    hmacAlgorithm: -10,
    masterSalt: '9e7ca92223786340',
  });
  assert.deepEqual(bootstrapConfigFromJson(JSON.parse(JSON.stringify(json))), OSCORE_ACCOUNT);
  const odd = structuredClone(json);
  odd.servers[0]!.oscore.recipientId = '1';
  assert.throws(() => bootstrapConfigFromJson(odd), /oscore.recipientId must be hex digits/);
  const missing = structuredClone(json);
  delete missing.servers[0]!.oscore.masterSecret;
  assert.throws(
    () => bootstrapConfigFromJson(missing),
    /needs masterSecret, senderId and recipientId/,
  );
});
