import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { buildApi } from '../../src/api/app.js';
import type { HealthReport } from '../../src/api/routes/health.js';
import { silentLogger } from '../../src/log.js';

const healthy: HealthReport = {
  status: 'ok',
  version: '1.2.3',
  uptimeSeconds: 1,
  listeners: { http: { status: 'listening', address: '127.0.0.1:1' }, coap: { status: 'off' } },
  storage: { status: 'ok', backend: 'sqlite' },
};

async function api(report: HealthReport = healthy) {
  const metrics = new Registry();
  return buildApi({ version: '1.2.3', logger: silentLogger(), health: () => report, metrics });
}

describe('HTTP API basics', () => {
  test('GET /api/health answers 200 with the report when healthy', async (t) => {
    const app = await api();
    t.after(() => app.close());
    const res = await app.inject({ method: 'GET', url: '/api/health' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), healthy);
  });

  test('GET /api/health answers 503 when degraded', async (t) => {
    const app = await api({
      ...healthy,
      status: 'degraded',
      storage: { status: 'failing', backend: 'sqlite', detail: 'closed' },
    });
    t.after(() => app.close());
    const res = await app.inject({ method: 'GET', url: '/api/health' });
    assert.equal(res.statusCode, 503);
    assert.equal(res.json().storage.detail, 'closed');
  });

  test('GET /api/openapi.json is an OpenAPI 3.1 document listing the routes', async (t) => {
    const app = await api();
    t.after(() => app.close());
    const res = await app.inject({ method: 'GET', url: '/api/openapi.json' });
    assert.equal(res.statusCode, 200);
    const doc = res.json();
    assert.equal(doc.openapi, '3.1.0');
    assert.equal(doc.info.version, '1.2.3');
    assert.ok(doc.paths['/api/health'].get, 'health is documented');
    assert.ok(doc.paths['/metrics'].get, 'metrics is documented');
    assert.equal(doc.paths['/api/openapi.json'], undefined, 'the document does not list itself');
  });

  test('GET /api/docs serves the documentation page', async (t) => {
    const app = await api();
    t.after(() => app.close());
    const res = await app.inject({ method: 'GET', url: '/api/docs/' });
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /text\/html/);
    assert.match(res.body, /swagger/i);
  });

  test('an unknown route is a 404 with a coded JSON error', async (t) => {
    const app = await api();
    t.after(() => app.close());
    const res = await app.inject({ method: 'GET', url: '/api/nope?x=1' });
    assert.equal(res.statusCode, 404);
    assert.deepEqual(res.json(), {
      statusCode: 404,
      code: 'TANDEM_ERR_NOT_FOUND',
      error: 'Not Found',
      message: 'no route for GET /api/nope',
    });
  });
});
