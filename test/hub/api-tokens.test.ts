import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  hashToken,
  installEnvAdminToken,
  issueToken,
  resolveToken,
  roleAllows,
} from '../../src/hub/api-tokens.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';

describe('API tokens', () => {
  test('roles are ordered: admin includes operator, operator includes read-only', () => {
    assert.equal(roleAllows('admin', 'operator'), true);
    assert.equal(roleAllows('operator', 'read-only'), true);
    assert.equal(roleAllows('operator', 'admin'), false);
    assert.equal(roleAllows('read-only', 'operator'), false);
  });

  test('an issued token resolves by its secret; two tokens never share a secret', async (t) => {
    const store = new SqliteStore({ dataDir: ':memory:' });
    t.after(() => store.close());
    const a = await issueToken(store.tokens, 'operator', 'a');
    const b = await issueToken(store.tokens, 'operator', 'b');
    assert.notEqual(a.token, b.token);
    assert.notEqual(a.id, b.id);
    assert.equal((await resolveToken(store.tokens, a.token))?.id, a.id);
    assert.equal(await resolveToken(store.tokens, `${a.token}x`), undefined);
    assert.equal(hashToken(a.token).length, 32);
  });

  test('TANDEM_ADMIN_TOKEN replaces the previous one and must be long enough', async (t) => {
    const store = new SqliteStore({ dataDir: ':memory:' });
    t.after(() => store.close());
    const first = 'a'.repeat(32);
    const second = 'b'.repeat(40);
    await installEnvAdminToken(store.tokens, first);
    await installEnvAdminToken(store.tokens, second);
    assert.equal(await resolveToken(store.tokens, first), undefined);
    assert.equal((await resolveToken(store.tokens, second))?.role, 'admin');
    assert.equal((await store.tokens.list()).length, 1);
    await assert.rejects(installEnvAdminToken(store.tokens, 'short'), /at least 32/);
    await assert.rejects(
      installEnvAdminToken(store.tokens, `${'x'.repeat(32)} !`),
      /may only hold/,
      'a token that cannot travel in a Bearer header is refused at start',
    );
  });
});
