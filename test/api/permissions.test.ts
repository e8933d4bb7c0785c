import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ApiRole } from '../../src/store/ports.js';
import { apiWithStore } from './helpers.js';

type Who = ApiRole | 'anonymous';

/** Every protected route, and who may call it. */
const ROUTES: {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  url: string;
  body?: unknown;
  allowed: Who[];
  ok: number;
}[] = [
  { method: 'GET', url: '/api/devices', allowed: ['read-only', 'operator', 'admin'], ok: 200 },
  {
    method: 'GET',
    url: '/api/devices/fixture',
    allowed: ['read-only', 'operator', 'admin'],
    ok: 200,
  },
  {
    method: 'GET',
    url: '/api/devices/fixture/data',
    allowed: ['read-only', 'operator', 'admin'],
    ok: 200,
  },
  {
    method: 'POST',
    url: '/api/devices',
    body: { id: 'new', protocol: 'mqtt' },
    allowed: ['operator', 'admin'],
    ok: 201,
  },
  {
    method: 'PATCH',
    url: '/api/devices/fixture',
    body: { tags: ['x'] },
    allowed: ['operator', 'admin'],
    ok: 200,
  },
  { method: 'DELETE', url: '/api/devices/fixture', allowed: ['operator', 'admin'], ok: 204 },
  { method: 'POST', url: '/api/tokens', body: { role: 'read-only' }, allowed: ['admin'], ok: 201 },
  { method: 'GET', url: '/api/tokens', allowed: ['admin'], ok: 200 },
  { method: 'DELETE', url: '/api/tokens/fixture', allowed: ['admin'], ok: 204 },
];

const WHO: Who[] = ['anonymous', 'read-only', 'operator', 'admin'];

async function setup(t: Parameters<typeof apiWithStore>[0], anonymousReads = false) {
  const api = await apiWithStore(t, { anonymousReads });
  await api.devices.create({ id: 'fixture', protocol: 'lwm2m' });
  await api.store.tokens.create({ id: 'fixture', role: 'read-only', hash: Buffer.alloc(32, 7) });
  return api;
}

describe('API permissions by role', () => {
  for (const route of ROUTES) {
    for (const who of WHO) {
      const allowed = route.allowed.includes(who);
      const expected = allowed ? route.ok : who === 'anonymous' ? 401 : 403;
      test(`${who} ${allowed ? 'may' : 'may not'} ${route.method} ${route.url} (${expected})`, async (t) => {
        const { call } = await setup(t);
        const res = await call(route.method, route.url, {
          ...(who !== 'anonymous' ? { as: who } : {}),
          ...(route.body ? { body: route.body } : {}),
        });
        assert.equal(res.statusCode, expected, res.body);
        if (expected === 401) {
          assert.equal(res.headers['www-authenticate'], 'Bearer realm="tandem"');
          assert.equal(res.json().code, 'TANDEM_ERR_UNAUTHORIZED');
        }
        if (expected === 403) {
          assert.equal(res.json().code, 'TANDEM_ERR_FORBIDDEN');
          assert.equal(res.json().statusCode, 403);
          assert.equal(res.json().error, 'Forbidden');
        }
      });
    }
  }

  test('in loopback development mode anonymous requests may read, never write', async (t) => {
    const { call } = await setup(t, true);
    for (const route of ROUTES) {
      const res = await call(route.method, route.url, route.body ? { body: route.body } : {});
      const reads = route.allowed.includes('read-only');
      assert.equal(res.statusCode, reads ? route.ok : 401, `${route.method} ${route.url}`);
    }
  });

  test('a token that is sent is checked even where anonymous reads are allowed', async (t) => {
    const { call } = await setup(t, true);
    const res = await call('GET', '/api/devices', { token: 'tdm_not-a-real-token' });
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().message, 'unknown or revoked token');
  });

  test('health, metrics, the OpenAPI document and the docs page stay public', async (t) => {
    const { call } = await setup(t);
    for (const url of ['/api/health', '/metrics', '/api/openapi.json', '/api/docs/']) {
      assert.equal((await call('GET', url)).statusCode, 200, url);
    }
  });

  test('a malformed Authorization header is a 401 (RFC 6750 §2.1)', async (t) => {
    const { app } = await setup(t);
    for (const authorization of ['Basic dXNlcjpwdw==', 'Bearer', 'Bearer a b', 'tdm_abc']) {
      const res = await app.inject({
        method: 'GET',
        url: '/api/devices',
        headers: { authorization },
      });
      assert.equal(res.statusCode, 401, authorization);
      assert.equal(res.headers['www-authenticate'], 'Bearer realm="tandem"');
    }
  });

  test('the bearer scheme name is case-insensitive (RFC 7235 §2.1)', async (t) => {
    const { app, tokens } = await setup(t);
    const res = await app.inject({
      method: 'GET',
      url: '/api/devices',
      headers: { authorization: `bearer ${tokens['read-only']}` },
    });
    assert.equal(res.statusCode, 200);
  });

  test('a revoked token stops working at once', async (t) => {
    const { call } = await setup(t);
    const created = await call('POST', '/api/tokens', { as: 'admin', body: { role: 'operator' } });
    const { id, token } = created.json();
    assert.equal((await call('GET', '/api/devices', { token })).statusCode, 200);
    assert.equal((await call('DELETE', `/api/tokens/${id}`, { as: 'admin' })).statusCode, 204);
    assert.equal((await call('GET', '/api/devices', { token })).statusCode, 401);
  });
});
