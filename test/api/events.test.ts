import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import mqtt from 'mqtt';
import { readEvents } from '../helpers/sse.js';
import { startTandem } from '../helpers/tandem.js';
import { apiWithStore } from './helpers.js';

const ADMIN = 'events-admin-token-0123456789abcdef01234567';

describe('GET /api/events (Server-Sent Events)', () => {
  test('streams one device lifecycle: registered, online, offline, revoked, deleted', async (t) => {
    const tandem = await startTandem(t, {}, { adminToken: ADMIN });
    const http = `http://127.0.0.1:${tandem.address('http')!.port}`;
    const headers = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
    const abort = new AbortController();
    t.after(() => abort.abort());
    const stream = await fetch(`${http}/api/events?device=s1`, { headers, signal: abort.signal });
    assert.equal(stream.status, 200);
    assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reading = readEvents(stream.body!, (e) => e.event === 'deleted');

    for (const id of ['s2', 's1']) {
      const res = await fetch(`${http}/api/devices`, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          id,
          protocol: 'mqtt',
          credentials: { mqtt: { username: id, password: `pw-${id}` } },
        }),
      });
      assert.equal(res.status, 201);
    }
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${tandem.address('mqtt')!.port}`, {
      username: 's1',
      password: 'pw-s1',
      reconnectPeriod: 0,
    });
    t.after(() => client.end(true));
    await fetch(`${http}/api/devices/s1`, { method: 'DELETE', headers });

    const events = await reading;
    abort.abort();
    assert.deepEqual(
      events.map((e) => [e.event, e.data.device]),
      [
        ['registered', 's1'],
        ['online', 's1'],
        ['offline', 's1'],
        ['revoked', 's1'],
        ['deleted', 's1'],
      ],
      'only the events of s1',
    );
    assert.deepEqual(
      events.map((e) => e.id),
      ['1', '2', '3', '4', '5'],
    );
    const registered = events[0]!.data as { data: { credentials: unknown }; ts: string };
    assert.deepEqual(registered.data.credentials, { mqtt: { username: 's1' } });
    assert.match(registered.ts, /^\d{4}-/);
    assert.deepEqual(events[3]!.data.kinds, ['mqtt', 'psk', 'rpk', 'x509']);
    assert.equal(events[3]!.data.sessionsClosed, 1);
  });

  test('stopping the server ends an open event stream', async (t) => {
    const tandem = await startTandem(t, {}, { adminToken: ADMIN });
    const http = `http://127.0.0.1:${tandem.address('http')!.port}`;
    const stream = await fetch(`${http}/api/events`, {
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    const reading = readEvents(stream.body!, () => false).catch(() => 'cut');
    await tandem.stop();
    assert.ok((await reading) !== undefined, 'the stream ended');
    assert.equal(tandem.devices.events.listenerCount('online'), 0, 'its listeners are gone');
  });

  test('an unknown event type is a 400 naming the field; the stream needs read access', async (t) => {
    const { call } = await apiWithStore(t);
    const bad = await call('GET', '/api/events?type=online,exploded', { as: 'read-only' });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().field, 'type');
    assert.equal((await call('GET', '/api/events')).statusCode, 401);
  });
});
