/**
 * Queued commands through the API (issue 6: "commands to a sleeping device are queued ... with
 * a time-to-live, visible and cancellable through the API"), against a real Tandem and our
 * LwM2M client over UDP. A device that is not registered is the offline case; the withdrawal of
 * a request held for a sleeping queue-mode device is tested at the LwM2M server
 * (test/lwm2m/server/lifetime-queue.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import type { ApiRole } from '../../src/store/ports.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { httpApi, type Json } from '../helpers/http-api.js';
import { lwm2mDevice } from '../helpers/lwm2m-device.js';
import { readEvents } from '../helpers/sse.js';
import { startTandem } from '../helpers/tandem.js';
import { tempDir } from '../helpers/tmp.js';

/** Polls the command until `done` says so (the device answers asynchronously). */
async function waitFor(
  call: Awaited<ReturnType<typeof httpApi>>['call'],
  url: string,
  done: (c: Json) => boolean,
): Promise<Json> {
  for (let i = 0; i < 400; i++) {
    const res = await call('GET', url, { as: 'read-only' });
    if (done(res.json)) return res.json;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`${url} never reached the expected state`);
}

async function setup(t: TestContext, dataDir?: string) {
  const tandem = await startTandem(t, dataDir ? { dataDir } : {});
  const api = await httpApi(tandem);
  const { call } = api;
  assert.equal(
    (await call('POST', '/api/devices', { as: 'admin', body: { id: 'dev1', protocol: 'lwm2m' } }))
      .status,
    201,
  );
  return { tandem, ...api };
}

describe('queued commands (REST)', () => {
  test('a command for an offline device waits, goes when it registers, and keeps the answer', async (t) => {
    const { tandem, call } = await setup(t);
    const res = await call('POST', '/api/devices/dev1/commands', {
      as: 'operator',
      body: { op: 'write', path: '/3/0/15', value: 'Europe/Berlin', ttl: 60 },
    });
    assert.equal(res.status, 202);
    assert.equal(res.json.status, 'queued');
    assert.equal(res.json.deviceId, 'dev1');
    assert.deepEqual(res.json.command, { op: 'write', path: '/3/0/15', value: 'Europe/Berlin' });
    const url = `/api/devices/dev1/commands/${res.json.id as string}`;
    assert.equal(res.headers.get('location'), url);
    const ttl = Date.parse(res.json.expiresAt as string) - Date.parse(res.json.createdAt as string);
    assert.equal(ttl, 60_000);
    // Visible while it waits, newest first beside a second one.
    const read = await call('POST', '/api/devices/dev1/commands', {
      as: 'read-only',
      body: { op: 'read', path: '/3/0/15' },
    });
    assert.equal(read.status, 202);
    const list = await call('GET', '/api/devices/dev1/commands', { as: 'read-only' });
    assert.deepEqual(
      (list.json.commands as Json[]).map((c) => [c.id, c.status]),
      [
        [read.json.id, 'queued'],
        [res.json.id, 'queued'],
      ],
    );

    const device = await lwm2mDevice(t, tandem, 'dev1');
    await device.register();
    const written = await waitFor(call, url, (c) => c.status === 'succeeded');
    assert.deepEqual(written.result, { status: 204 });
    const value = await waitFor(
      call,
      `/api/devices/dev1/commands/${read.json.id as string}`,
      (c) => c.status === 'succeeded',
    );
    // Both went once the device registered; the read may have left before the write.
    assert.equal((value.result as Json).status, 200);
    assert.equal(((value.result as Json).body as Json).path, '/3/0/15');
    const now = await call('GET', '/api/devices/dev1/3/0/15', { as: 'read-only' });
    assert.equal(now.json.value, 'Europe/Berlin');
  });

  test('each state of a command is a command event on /api/events, its result included', async (t) => {
    const { tandem, call, tokens, base } = await setup(t);
    const abort = new AbortController();
    t.after(() => abort.abort());
    const stream = await fetch(`${base}/api/events?device=dev1&type=command`, {
      headers: { authorization: `Bearer ${tokens['read-only']}` },
      signal: abort.signal,
    });
    const reading = readEvents(
      stream.body!,
      (e) => (e.data.command as Json).status === 'succeeded',
    );
    const res = await call('POST', '/api/devices/dev1/commands', {
      as: 'operator',
      body: { op: 'read', path: '/3/0/0' },
    });
    const device = await lwm2mDevice(t, tandem, 'dev1');
    await device.register();
    const events = await reading;
    abort.abort();
    assert.deepEqual(
      events.map((e) => [e.event, (e.data.command as Json).id, (e.data.command as Json).status]),
      [
        ['command', res.json.id, 'queued'],
        ['command', res.json.id, 'sent'],
        ['command', res.json.id, 'succeeded'],
      ],
    );
    const last = events.at(-1)!.data.command as Json;
    assert.equal(((last.result as Json).body as Json).value, 'Tandem Labs');
  });

  test('a queued command is cancelled with DELETE and never reaches the device; a finished one is 409', async (t) => {
    const { tandem, call } = await setup(t);
    const res = await call('POST', '/api/devices/dev1/commands', {
      as: 'operator',
      body: { op: 'write', path: '/3/0/15', value: 'Asia/Tokyo' },
    });
    const url = `/api/devices/dev1/commands/${res.json.id as string}`;
    assert.equal((await call('DELETE', url, { as: 'read-only' })).status, 403);
    const cancelled = await call('DELETE', url, { as: 'operator' });
    assert.equal(cancelled.status, 200);
    assert.equal(cancelled.json.status, 'cancelled');
    assert.equal((cancelled.json.error as Json).code, 'TANDEM_ERR_CANCELLED');
    const again = await call('DELETE', url, { as: 'operator' });
    assert.equal(again.status, 409);
    assert.equal(again.json.code, 'TANDEM_ERR_COMMAND_NOT_CANCELLABLE');

    const device = await lwm2mDevice(t, tandem, 'dev1');
    await device.register();
    const before = (await call('GET', '/api/devices/dev1/3/0/15', { as: 'read-only' })).json;
    assert.notEqual(before.value, 'Asia/Tokyo', 'the cancelled write never went');
    assert.equal((await call('GET', url, { as: 'read-only' })).json.status, 'cancelled');
  });

  test('a command whose time-to-live passes before the device shows up expires', async (t) => {
    const { tandem, call } = await setup(t);
    const res = await call('POST', '/api/devices/dev1/commands', {
      as: 'operator',
      body: { op: 'execute', path: '/3/0/4', ttl: 1 },
    });
    const url = `/api/devices/dev1/commands/${res.json.id as string}`;
    const expired = await waitFor(call, url, (c) => c.status === 'expired');
    assert.equal((expired.error as Json).code, 'TANDEM_ERR_COMMAND_EXPIRED');
    const device = await lwm2mDevice(t, tandem, 'dev1');
    await device.register();
    assert.equal((await call('GET', url, { as: 'read-only' })).json.status, 'expired');
  });

  test('a device answer that is an error fails the command with the CoAP code', async (t) => {
    const { tandem, call } = await setup(t);
    const device = await lwm2mDevice(t, tandem, 'dev1');
    await device.register();
    const res = await call('POST', '/api/devices/dev1/commands', {
      as: 'operator',
      body: { op: 'write', path: '/3/0/0', value: 'not writable' },
    });
    const failed = await waitFor(
      call,
      `/api/devices/dev1/commands/${res.json.id as string}`,
      (c) => c.status === 'failed',
    );
    assert.equal((failed.error as Json).code, 'TANDEM_ERR_LWM2M_METHOD_NOT_ALLOWED');
    assert.equal((failed.error as Json).coapCode, '4.05');
  });

  test('refuses bad commands, unknown devices and roles below the operation (400, 404, 401, 403)', async (t) => {
    const { call } = await setup(t);
    const post = (body: unknown, as?: ApiRole, id = 'dev1') =>
      call('POST', `/api/devices/${id}/commands`, { ...(as ? { as } : {}), body });
    const badPath = await post({ op: 'read', path: '/3/x' }, 'operator');
    assert.equal(badPath.status, 400);
    assert.equal(badPath.json.field, 'path');
    const wrongLevel = await post({ op: 'execute', path: '/3/0' }, 'operator');
    assert.equal(wrongLevel.status, 400);
    assert.equal((await post({ op: 'dance' }, 'operator')).status, 400);
    assert.equal((await post({ op: 'read', path: '/3/0/0', bogus: 1 }, 'operator')).status, 400);
    assert.equal((await post({ op: 'read', path: '/3/0/0', ttl: 0 }, 'operator')).status, 400);
    const unknown = await post({ op: 'read', path: '/3/0/0' }, 'operator', 'nobody');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.code, 'TANDEM_ERR_DEVICE_NOT_FOUND');
    // The loopback development mode queues anonymous reads, never more.
    assert.equal((await post({ op: 'read', path: '/3/0/0' })).status, 202);
    assert.equal((await post({ op: 'execute', path: '/3/0/4' })).status, 401);
    const forbidden = await post({ op: 'execute', path: '/3/0/4' }, 'read-only');
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.json.code, 'TANDEM_ERR_FORBIDDEN');
    const missing = await call('GET', '/api/devices/dev1/commands/nope', { as: 'read-only' });
    assert.equal(missing.status, 404);
    assert.equal(missing.json.code, 'TANDEM_ERR_COMMAND_NOT_FOUND');
  });

  test('deleting the device cancels its queued commands', async (t) => {
    const { call } = await setup(t);
    const res = await call('POST', '/api/devices/dev1/commands', {
      as: 'operator',
      body: { op: 'read', path: '/3/0/0' },
    });
    assert.equal((await call('DELETE', '/api/devices/dev1', { as: 'admin' })).status, 204);
    const record = await waitFor(
      call,
      `/api/devices/dev1/commands/${res.json.id as string}`,
      (c) => c.status === 'cancelled',
    );
    assert.equal((record.error as Json).code, 'TANDEM_ERR_DEVICE_NOT_FOUND');
  });

  test('queued commands survive a restart; one that was with the device when it stopped is failed', async (t) => {
    const dataDir = tempDir(t);
    const first = await setup(t, dataDir);
    const res = await first.call('POST', '/api/devices/dev1/commands', {
      as: 'operator',
      body: { op: 'write', path: '/3/0/15', value: 'America/Chicago' },
    });
    await first.tandem.stop();
    // A command the process had sent when it died (written as the queue would have left it).
    const store = new SqliteStore({ dataDir });
    await store.commands.create({
      id: 'inflight',
      deviceId: 'dev1',
      command: { op: 'execute', path: '/3/0/4' },
      status: 'sent',
      createdAt: Date.now(),
      updatedAt: Date.now(),
      expiresAt: Date.now() + 60_000,
    });
    await store.close();

    const second = await startTandem(t, { dataDir });
    const { call } = await httpApi(second);
    const lost = await call('GET', '/api/devices/dev1/commands/inflight', { as: 'read-only' });
    assert.equal(lost.json.status, 'failed');
    assert.match((lost.json.error as Json).message as string, /may have run/);
    const device = await lwm2mDevice(t, second, 'dev1');
    await device.register();
    const done = await waitFor(
      call,
      `/api/devices/dev1/commands/${res.json.id as string}`,
      (c) => c.status === 'succeeded',
    );
    assert.deepEqual(done.result, { status: 204 });
    const now = await call('GET', '/api/devices/dev1/3/0/15', { as: 'read-only' });
    assert.equal(now.json.value, 'America/Chicago');
  });
});
