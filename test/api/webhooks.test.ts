import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, type TestContext, test } from 'node:test';
import { issueToken } from '../../src/hub/api-tokens.js';
import { lwm2mDevice, temperatureSensor } from '../helpers/lwm2m-device.js';
import { startTandem } from '../helpers/tandem.js';
import { apiWithStore } from './helpers.js';

/** An HTTP server on port 0 that answers 204 and hands over each request's headers and JSON. */
async function collector(t: TestContext) {
  const got: { headers: IncomingHttpHeaders; body: Record<string, unknown> }[] = [];
  const waiters: (() => void)[] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => {
      text += c.toString();
    });
    req.on('end', () => {
      got.push({ headers: req.headers, body: JSON.parse(text) as Record<string, unknown> });
      res.writeHead(204).end();
      for (const w of waiters.splice(0)) w();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
  /** The first request (received or to come) whose body `where` accepts. */
  const next = async (where: (b: Record<string, unknown>) => boolean) => {
    for (;;) {
      const found = got.find((r) => where(r.body));
      if (found) return found;
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/in`, got, next };
}

describe('/api/webhooks', () => {
  test('only an admin token manages webhooks; anonymous reads do not reach them', async (t) => {
    const { call } = await apiWithStore(t, { anonymousReads: true, webhooks: {} });
    const body = { url: 'https://example.com/hook' };
    for (const role of ['read-only', 'operator'] as const) {
      assert.equal((await call('POST', '/api/webhooks', { as: role, body })).statusCode, 403);
      assert.equal((await call('GET', '/api/webhooks', { as: role })).statusCode, 403);
      assert.equal((await call('GET', '/api/webhooks/wh_x', { as: role })).statusCode, 403);
      assert.equal((await call('DELETE', '/api/webhooks/wh_x', { as: role })).statusCode, 403);
    }
    for (const [method, url] of [
      ['POST', '/api/webhooks'],
      ['GET', '/api/webhooks'],
      ['GET', '/api/webhooks/wh_x'],
      ['DELETE', '/api/webhooks/wh_x'],
    ] as const) {
      const res = await call(method, url, method === 'POST' ? { body } : {});
      assert.equal(res.statusCode, 401, `${method} ${url} without a token`);
    }
    const created = await call('POST', '/api/webhooks', { as: 'admin', body });
    assert.equal(created.statusCode, 201);
  });

  test('create, list, get and delete; the secret is never shown again', async (t) => {
    const { call } = await apiWithStore(t, { webhooks: {} });
    const created = await call('POST', '/api/webhooks', {
      as: 'admin',
      body: {
        url: 'https://example.com/hook',
        events: ['data'],
        devices: ['dev1'],
        paths: ['/3303/0/5700'],
        secret: true,
        description: 'plant',
      },
    });
    assert.equal(created.statusCode, 201);
    const hook = created.json();
    assert.match(hook.id, /^wh_[0-9a-f]{12}$/);
    assert.match(hook.secret, /^whsec_/);
    assert.deepEqual(
      [hook.url, hook.events, hook.devices, hook.paths, hook.signed, hook.description, hook.queued],
      ['https://example.com/hook', ['data'], ['dev1'], ['/3303/0/5700'], true, 'plant', 0],
    );
    const listed = (await call('GET', '/api/webhooks', { as: 'admin' })).json().webhooks;
    assert.equal(listed.length, 1);
    assert.equal(listed[0].secret, undefined);
    const one = await call('GET', `/api/webhooks/${hook.id}`, { as: 'admin' });
    assert.equal(one.json().secret, undefined);
    assert.equal(one.json().createdAt, hook.createdAt);
    assert.equal(
      (await call('DELETE', `/api/webhooks/${hook.id}`, { as: 'admin' })).statusCode,
      204,
    );
    const missing = await call('DELETE', `/api/webhooks/${hook.id}`, { as: 'admin' });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().code, 'TANDEM_ERR_WEBHOOK_NOT_FOUND');
    assert.equal((await call('GET', `/api/webhooks/${hook.id}`, { as: 'admin' })).statusCode, 404);
  });

  test('bad input is a 400 naming the field', async (t) => {
    const { call } = await apiWithStore(t, { webhooks: {} });
    const field = async (body: unknown) => {
      const res = await call('POST', '/api/webhooks', { as: 'admin', body });
      assert.equal(res.statusCode, 400, JSON.stringify(body));
      return res.json().field;
    };
    assert.equal(await field({}), 'url');
    assert.equal(await field({ url: 'file:///etc/passwd' }), 'url');
    assert.equal(await field({ url: 'http://a/', events: ['data', 'boom'] }), 'events');
    assert.equal(await field({ url: 'http://a/', secret: 'short' }), 'secret');
    assert.equal(await field({ url: 'http://a/', extra: 1 }), 'extra');
    assert.equal((await call('GET', '/api/webhooks', { as: 'admin' })).json().webhooks.length, 0);
  });

  test('a device created through the API and the values an LwM2M device reports are POSTed', async (t) => {
    const tandem = await startTandem(t);
    const hook = await collector(t);
    const admin = (await issueToken(tandem.store.tokens, 'admin')).token;
    const http = `http://127.0.0.1:${tandem.address('http')!.port}`;
    const headers = { authorization: `Bearer ${admin}`, 'content-type': 'application/json' };
    const created = await fetch(`${http}/api/webhooks`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ url: hook.url, events: ['registered', 'data'] }),
    });
    assert.equal(created.status, 201);
    const { id } = (await created.json()) as { id: string };

    const res = await fetch(`${http}/api/devices`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ id: 'm1', protocol: 'mqtt' }),
    });
    assert.equal(res.status, 201);
    const registered = await hook.next((b) => b.type === 'registered');
    assert.equal(registered.body.device, 'm1');
    assert.equal(registered.headers['x-tandem-webhook'], id);

    const device = await lwm2mDevice(t, tandem, 'dev1');
    await device.register();
    const observed = await fetch(`${http}/api/devices/dev1/3303/0/5700/observe`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}` },
    });
    assert.equal(observed.status, 200);
    temperatureSensor(device).measure(19.5);
    const data = await hook.next(
      (b) => b.type === 'data' && (b.data as { value: number }).value === 19.5,
    );
    assert.equal(data.body.device, 'dev1');
    assert.equal(data.body.path, '/3303/0/5700');
    assert.deepEqual(data.body.data, {
      path: '/3303/0/5700',
      value: 19.5,
      type: 'float',
      unit: 'Cel',
      name: 'Sensor Value',
    });
    assert.equal(data.headers['x-tandem-event'], 'data');
    const metrics = await tandem.metrics.getSingleMetricAsString('tandem_webhook_events_total');
    assert.match(metrics, new RegExp(`webhook="${id}",outcome="delivered"\\} [1-9]`));
  });
});
