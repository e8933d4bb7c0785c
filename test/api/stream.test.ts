import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, type TestContext, test } from 'node:test';
import WebSocket from 'ws';
import { issueToken } from '../../src/hub/api-tokens.js';
import { captureLogs } from '../helpers/log-capture.js';
import { lwm2mDevice, temperatureSensor } from '../helpers/lwm2m-device.js';
import { startTandem } from '../helpers/tandem.js';
import { apiWithStore } from './helpers.js';

type Message = Record<string, unknown> & { type?: string; device?: string; op?: string };

/** A WebSocket client that keeps every message and lets a test wait for one. */
function client(t: TestContext, url: string, options: WebSocket.ClientOptions = {}) {
  const ws = new WebSocket(url, options);
  const messages: Message[] = [];
  const waiters: { where: (m: Message) => boolean; resolve: (m: Message) => void }[] = [];
  ws.on('message', (data) => {
    const m = JSON.parse(data.toString()) as Message;
    messages.push(m);
    for (const w of [...waiters]) {
      if (w.where(m)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  // A refused client errs when the test ends; only a test that awaits `opened` cares.
  opened.catch(() => undefined);
  t.after(() => ws.terminate());
  return {
    ws,
    messages,
    closed,
    opened,
    /** The HTTP status of a refused upgrade. */
    refused: new Promise<number>((resolve) =>
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)),
    ),
    next: (where: (m: Message) => boolean) =>
      new Promise<Message>((resolve) => {
        const seen = messages.find(where);
        if (seen) resolve(seen);
        else waiters.push({ where, resolve });
      }),
  };
}

/** The API of apiWithStore, listening on a loopback port. */
async function listening(t: TestContext, options: Parameters<typeof apiWithStore>[1] = {}) {
  const api = await apiWithStore(t, options);
  await api.app.listen({ port: 0, host: '127.0.0.1' });
  const port = (api.app.server.address() as AddressInfo).port;
  return { ...api, ws: `ws://127.0.0.1:${port}/api/stream`, http: `http://127.0.0.1:${port}` };
}

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

describe('/api/stream (WebSocket)', () => {
  test('an upgrade without a token, or with a bad one, is refused with 401', async (t) => {
    const api = await listening(t);
    assert.equal(await client(t, api.ws).refused, 401);
    assert.equal(await client(t, `${api.ws}?access_token=tdm_nope`).refused, 401);
    assert.equal(await client(t, api.ws, bearer('tdm_nope')).refused, 401);
  });

  test('a read-only token opens it, in the header or as access_token (RFC 6750 §2.3)', async (t) => {
    const api = await listening(t);
    const byHeader = client(t, `${api.ws}?type=registered`, bearer(api.tokens['read-only']));
    const byQuery = client(t, `${api.ws}?type=registered&access_token=${api.tokens['read-only']}`);
    await Promise.all([byHeader.opened, byQuery.opened]);
    await api.devices.create({ id: 'd1', protocol: 'mqtt' });
    for (const c of [byHeader, byQuery]) {
      const e = await c.next((m) => m.type === 'registered');
      assert.equal(e.device, 'd1');
      assert.equal((e.data as { id: string }).id, 'd1');
      assert.match(e.ts as string, /^\d{4}-\d\d-\d\dT/);
    }
  });

  test('a plain GET is told to upgrade (426); a bad filter is a 400 before the upgrade', async (t) => {
    const api = await listening(t);
    const plain = await fetch(`${api.http}/api/stream`, {
      headers: { authorization: `Bearer ${api.tokens.admin}` },
    });
    assert.equal(plain.status, 426);
    assert.equal(plain.headers.get('upgrade'), 'websocket');
    assert.equal(((await plain.json()) as { code: string }).code, 'TANDEM_ERR_UPGRADE_REQUIRED');
    const admin = bearer(api.tokens.admin);
    assert.equal(await client(t, `${api.ws}?type=exploded`, admin).refused, 400);
    assert.equal(await client(t, `${api.ws}?path=3303`, admin).refused, 400);
    assert.equal(await client(t, `${api.ws}?unknown=1`, admin).refused, 400);
  });

  test('the query filters by device and type; a filter message replaces it', async (t) => {
    const api = await listening(t);
    const c = client(t, `${api.ws}?device=a,c&type=registered,deleted`, bearer(api.tokens.admin));
    await c.opened;
    for (const id of ['b', 'a', 'c']) await api.devices.create({ id, protocol: 'mqtt' });
    await c.next((m) => m.device === 'c');
    assert.deepEqual(
      c.messages.map((m) => [m.type, m.device]),
      [
        ['registered', 'a'],
        ['registered', 'c'],
      ],
    );
    c.ws.send(JSON.stringify({ op: 'filter', types: ['deleted'], devices: ['b'] }));
    const answer = await c.next((m) => m.op === 'filter');
    assert.deepEqual(answer.filter, { types: ['deleted'], devices: ['b'] });
    await api.devices.delete('a');
    await api.devices.delete('b');
    const deleted = await c.next((m) => m.type === 'deleted');
    assert.equal(deleted.device, 'b');
    assert.equal(c.messages.filter((m) => m.type === 'deleted').length, 1);
  });

  test('a bad message is answered with an error and the stream goes on', async (t) => {
    const api = await listening(t);
    const c = client(t, `${api.ws}?type=registered`, bearer(api.tokens['read-only']));
    await c.opened;
    c.ws.send('not json');
    const notJson = await c.next((m) => m.op === 'error');
    assert.equal(notJson.code, 'TANDEM_ERR_BAD_REQUEST');
    c.ws.send(JSON.stringify({ op: 'filter', types: ['boom'] }));
    const badType = await c.next((m) => m.op === 'error' && m.field === 'types');
    assert.equal(badType.code, 'TANDEM_ERR_VALIDATION');
    c.ws.send(JSON.stringify({ op: 'subscribe' }));
    await c.next((m) => m.op === 'error' && m.field === 'op');
    await api.devices.create({ id: 'd1', protocol: 'mqtt' });
    await c.next((m) => m.type === 'registered');
  });

  test('a client that falls behind is closed with 1008, not buffered without end', async (t) => {
    const maxBufferedBytes = 64 * 1024;
    const api = await listening(t, { stream: { maxBufferedBytes } });
    const c = client(t, `${api.ws}?type=updated`, bearer(api.tokens['read-only']));
    await c.opened;
    // The client stops reading: the kernel buffers fill, then the server's own.
    c.ws.pause();
    const view = await api.devices.create({
      id: 'd1',
      protocol: 'mqtt',
      metadata: { blob: 'x'.repeat(15_000) },
    });
    const sent = 2000;
    for (let i = 0; i < sent; i++)
      api.devices.events.emit('updated', { device: view, revoked: [] });
    c.ws.resume();
    const { code, reason } = await c.closed;
    assert.equal(code, 1008, 'RFC 6455 §7.4.1: policy violation');
    assert.match(reason, /too slow/);
    assert.ok(c.messages.length < sent, `${c.messages.length} of ${sent} events came`);
  });

  test('pings keep it open; a client that answers no ping is cut (RFC 6455 §5.5.2)', async (t) => {
    const api = await listening(t, { stream: { pingIntervalMs: 250 } });
    const live = client(t, api.ws, bearer(api.tokens['read-only']));
    let pings = 0;
    const thirdPing = new Promise<void>((resolve) =>
      live.ws.on('ping', () => {
        if (++pings === 3) resolve();
      }),
    );
    const silent = client(t, api.ws, { ...bearer(api.tokens['read-only']), autoPong: false });
    const { code } = await silent.closed;
    assert.equal(code, 1006, 'cut without a closing handshake');
    await thirdPing;
    assert.equal(live.ws.readyState, WebSocket.OPEN);
  });

  test('an LwM2M value reaches a stream filtered by path; stopping the server closes it with 1001', async (t) => {
    const tandem = await startTandem(t);
    const reader = (await issueToken(tandem.store.tokens, 'read-only')).token;
    const operator = (await issueToken(tandem.store.tokens, 'operator')).token;
    const port = tandem.address('http')!.port;
    const c = client(
      t,
      `ws://127.0.0.1:${port}/api/stream?path=/3303/0&device=dev1`,
      bearer(reader),
    );
    const all = client(t, `ws://127.0.0.1:${port}/api/stream?device=dev1`, bearer(reader));
    await Promise.all([c.opened, all.opened]);
    const device = await lwm2mDevice(t, tandem, 'dev1');
    await device.register();
    await all.next((m) => m.type === 'online');
    const observed = await fetch(`http://127.0.0.1:${port}/api/devices/dev1/3303/0/5700/observe`, {
      method: 'POST',
      headers: { authorization: `Bearer ${operator}` },
    });
    assert.equal(observed.status, 200);
    temperatureSensor(device).measure(21.5);
    const data = await c.next(
      (m) => m.type === 'data' && (m.data as { value: number }).value === 21.5,
    );
    assert.equal(data.device, 'dev1');
    assert.equal(data.path, '/3303/0/5700');
    assert.deepEqual(data.data, {
      path: '/3303/0/5700',
      value: 21.5,
      type: 'float',
      unit: 'Cel',
      name: 'Sensor Value',
    });
    assert.ok(
      c.messages.every((m) => m.type === 'data'),
      'a path filter lets only data events through',
    );
    await tandem.stop();
    const { code } = await c.closed;
    assert.equal(code, 1001, 'RFC 6455 §7.4.1: going away');
    assert.equal(tandem.devices.events.listenerCount('registered'), 0, 'the feed is closed');
  });

  test('revoking a token closes its streams: the WebSocket with 1008, the Server-Sent Events', async (t) => {
    const api = await listening(t, { stream: { pingIntervalMs: 100 } });
    const reader = await issueToken(api.store.tokens, 'read-only');
    const kept = client(t, api.ws, bearer(api.tokens['read-only']));
    const revoked = client(t, api.ws, bearer(reader.token));
    await Promise.all([kept.opened, revoked.opened]);
    const sse = await fetch(`${api.http}/api/events`, {
      headers: { authorization: `Bearer ${reader.token}` },
    });
    assert.equal(sse.status, 200);
    const ended = (async () => {
      for await (const _ of sse.body!) {
        // read until the server ends the stream
      }
      return 'ended';
    })();
    const res = await api.call('DELETE', `/api/tokens/${reader.id}`, { as: 'admin' });
    assert.equal(res.statusCode, 204);
    assert.deepEqual(await revoked.closed, { code: 1008, reason: 'token revoked' });
    assert.equal(await ended, 'ended');
    await api.devices.create({ id: 'd1', protocol: 'mqtt' });
    await kept.next((m) => m.type === 'registered');
  });

  test('an access_token in a URL is never logged', async (t) => {
    const { logger, lines } = captureLogs('debug');
    const api = await listening(t, { logger });
    const secret = 'tdm_never-in-a-log-0123456789';
    // A WebSocket asked of a route that is none: the plugin logs the path as it closes it.
    const c = client(t, `${api.ws.replace('/api/stream', '/api/health')}?access_token=${secret}`);
    await c.closed;
    const logged = JSON.stringify(lines);
    assert.match(logged, /access_token=\[redacted\]/);
    assert.equal(logged.includes(secret), false);
  });

  test('the OpenAPI document describes the stream and the webhooks', async (t) => {
    const { call } = await apiWithStore(t, { webhooks: {} });
    const doc = (await call('GET', '/api/openapi.json')).json();
    const stream = doc.paths['/api/stream'].get;
    assert.ok(stream.responses['101']);
    assert.deepEqual(stream.parameters.map((p: { name: string }) => p.name).sort(), [
      'access_token',
      'device',
      'path',
      'type',
    ]);
    assert.ok(doc.paths['/api/webhooks'].post);
    assert.ok(doc.paths['/api/webhooks/{id}'].delete);
  });
});
