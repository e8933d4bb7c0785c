import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hashToken } from '../../src/hub/api-tokens.js';
import { apiWithStore } from './helpers.js';

describe('token routes', () => {
  test('POST /api/tokens shows the secret once; only its SHA-256 is stored', async (t) => {
    const { call, store } = await apiWithStore(t);
    const res = await call('POST', '/api/tokens', {
      as: 'admin',
      body: { role: 'operator', description: 'ci pipeline' },
    });
    assert.equal(res.statusCode, 201, res.body);
    const body = res.json();
    assert.equal(body.role, 'operator');
    assert.equal(body.description, 'ci pipeline');
    assert.match(body.token, /^tdm_[A-Za-z0-9_-]{43}$/, '256 random bits, base64url');
    assert.match(body.createdAt, /^\d{4}-/);
    const row = store.db.prepare('SELECT hash FROM api_tokens WHERE id = ?').get(body.id) as {
      hash: Buffer;
    };
    assert.deepEqual(row.hash, hashToken(body.token));
    assert.equal(
      (
        store.db.prepare('SELECT COUNT(*) AS n FROM api_tokens WHERE hash = ?').get(body.token) as {
          n: number;
        }
      ).n,
      0,
    );

    const list = await call('GET', '/api/tokens', { as: 'admin' });
    assert.equal(list.statusCode, 200);
    const listed = list.json().tokens.find((x: { id: string }) => x.id === body.id);
    assert.deepEqual(listed, {
      id: body.id,
      role: 'operator',
      description: 'ci pipeline',
      createdAt: body.createdAt,
    });
    assert.doesNotMatch(list.body, new RegExp(body.token));
  });

  test('a token of an unknown role is a 400 naming the role', async (t) => {
    const { call } = await apiWithStore(t);
    const res = await call('POST', '/api/tokens', { as: 'admin', body: { role: 'root' } });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().field, 'role');
  });

  test('DELETE /api/tokens/{id} of an unknown token is a 404', async (t) => {
    const { call } = await apiWithStore(t);
    const res = await call('DELETE', '/api/tokens/nope', { as: 'admin' });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().code, 'TANDEM_ERR_TOKEN_NOT_FOUND');
  });
});
