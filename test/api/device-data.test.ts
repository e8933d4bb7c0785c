import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { apiWithStore } from './helpers.js';

const at = (minute: number, second = 0) => Date.UTC(2026, 0, 1, 0, minute, second);

describe('GET /api/devices/{id}/data?interval=', () => {
  test('answers downsampled buckets {path, ts, min, max, avg, count, last}, newest first', async (t) => {
    const { call, devices, store } = await apiWithStore(t);
    await devices.create({ id: 'sensor', protocol: 'lwm2m' });
    store.telemetry.append([
      { deviceId: 'sensor', path: '/3303/0/5700', ts: at(0, 10), value: 20 },
      { deviceId: 'sensor', path: '/3303/0/5700', ts: at(0, 20), value: 23 },
      { deviceId: 'sensor', path: '/3303/0/5700', ts: at(7, 0), value: 30 },
      { deviceId: 'sensor', path: '/3/0/0', ts: at(1, 0), value: 'Acme' },
    ]);
    const minutes = await call('GET', '/api/devices/sensor/data?interval=1m', { as: 'read-only' });
    assert.equal(minutes.statusCode, 200);
    assert.deepEqual(minutes.json(), [
      {
        path: '/3303/0/5700',
        ts: '2026-01-01T00:07:00.000Z',
        min: 30,
        max: 30,
        avg: 30,
        count: 1,
        last: 30,
      },
      {
        path: '/3/0/0',
        ts: '2026-01-01T00:01:00.000Z',
        min: null,
        max: null,
        avg: null,
        count: 1,
        last: 'Acme',
      },
      {
        path: '/3303/0/5700',
        ts: '2026-01-01T00:00:00.000Z',
        min: 20,
        max: 23,
        avg: 21.5,
        count: 2,
        last: 23,
      },
    ]);
    const path = encodeURIComponent('/3303/0/5700');
    const quarter = await call(
      'GET',
      `/api/devices/sensor/data?interval=15m&path=${path}&from=${at(0)}&to=2026-01-01T00:14:59Z`,
      { as: 'read-only' },
    );
    assert.deepEqual(quarter.json(), [
      {
        path: '/3303/0/5700',
        ts: '2026-01-01T00:00:00.000Z',
        min: 20,
        max: 30,
        avg: 73 / 3,
        count: 3,
        last: 30,
      },
    ]);
    // Without interval the contract is unchanged: raw points.
    const raw = await call('GET', `/api/devices/sensor/data?path=${path}&limit=1`, {
      as: 'read-only',
    });
    assert.deepEqual(raw.json(), [
      { path: '/3303/0/5700', value: 30, ts: '2026-01-01T00:07:00.000Z' },
    ]);
  });

  test('an interval that is no multiple of a kept rollup, or no duration, is a 400 naming it', async (t) => {
    const { call, devices } = await apiWithStore(t);
    await devices.create({ id: 'sensor', protocol: 'lwm2m' });
    for (const interval of ['90s', 'often', '0m']) {
      const res = await call('GET', `/api/devices/sensor/data?interval=${interval}`, {
        as: 'read-only',
      });
      assert.equal(res.statusCode, 400, interval);
      assert.equal(res.json().code, 'TANDEM_ERR_VALIDATION');
      assert.equal(res.json().field, 'interval', interval);
    }
    const res = await call('GET', '/api/devices/sensor/data?interval=90s', { as: 'read-only' });
    assert.match(res.json().message, /1m, 1h/);
  });

  test('buckets of an unknown device are a 404', async (t) => {
    const { call } = await apiWithStore(t);
    const res = await call('GET', '/api/devices/nobody/data?interval=1h', { as: 'read-only' });
    assert.equal(res.statusCode, 404);
  });

  test('the OpenAPI document describes both shapes and the interval parameter', async (t) => {
    const { call } = await apiWithStore(t);
    const doc = (await call('GET', '/api/openapi.json')).json();
    const op = doc.paths['/api/devices/{id}/data'].get;
    assert.ok(op.parameters.some((p: { name: string }) => p.name === 'interval'));
    const shapes = op.responses['200'].content['application/json'].schema.anyOf;
    assert.deepEqual(
      shapes.map((s: { items: { required: string[] } }) => s.items.required),
      [
        ['path', 'value', 'ts'],
        ['path', 'ts', 'min', 'max', 'avg', 'count', 'last'],
      ],
    );
  });
});
