import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import { Code } from '../../src/coap/code.js';
import { udpPeer } from '../../src/coap/udp-transport.js';
import { issueToken } from '../../src/hub/api-tokens.js';
import { startTandem } from '../helpers/tandem.js';
import { scriptedClient } from '../lwm2m/bootstrap/scripted-client.js';

const ACCOUNT = {
  shortServerId: 3,
  uri: 'coaps://tandem.example:5684',
  securityMode: 'psk',
  publicKeyOrIdentity: Buffer.from('sensor-1').toString('base64'),
  secretKey: Buffer.from('00112233445566778899aabbccddeeff', 'hex').toString('base64'),
  lifetime: 600,
};

async function started(t: TestContext) {
  const tandem = await startTandem(t, { host: '0.0.0.0' });
  const tokens: Record<string, string> = {};
  for (const role of ['read-only', 'operator', 'admin'] as const) {
    tokens[role] = (await issueToken(tandem.store.tokens, role, role)).token;
  }
  const http = `http://127.0.0.1:${tandem.address('http')!.port}`;
  const api = async (method: string, path: string, role: string | null, body?: unknown) => {
    const res = await fetch(`${http}${path}`, {
      method,
      headers: {
        ...(role ? { authorization: `Bearer ${tokens[role]}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  return { tandem, api };
}

describe('bootstrap configuration API', () => {
  test('an admin sets, lists and removes configurations; secret keys are never shown', async (t) => {
    const { tandem, api } = await started(t);
    const put = await api('PUT', '/api/bootstrap/configs/sensor-*', 'admin', {
      servers: [ACCOUNT],
    });
    assert.equal(put.status, 200);
    assert.equal(put.body.key, 'sensor-*');
    assert.equal(put.body.config.servers[0].secretKey, undefined);
    assert.equal(put.body.config.servers[0].secretKeySet, true);

    // The Bootstrap-Server now has it, keys as bytes.
    const stored = await tandem.bootstrap.configs.get('sensor-7');
    assert.deepEqual(
      stored?.servers[0]?.secretKey,
      Buffer.from('00112233445566778899aabbccddeeff', 'hex'),
    );

    const list = await api('GET', '/api/bootstrap/configs', 'admin');
    assert.deepEqual(
      list.body.configs.map((c: { key: string }) => c.key),
      ['sensor-*'],
    );
    assert.equal(
      list.body.configs[0].config.servers[0].publicKeyOrIdentity,
      ACCOUNT.publicKeyOrIdentity,
    );
    assert.equal((await api('DELETE', '/api/bootstrap/configs/sensor-*', 'admin')).status, 204);
    const again = await api('DELETE', '/api/bootstrap/configs/sensor-*', 'admin');
    assert.equal(again.status, 404);
    assert.equal(again.body.code, 'TANDEM_ERR_BOOTSTRAP_CONFIG_NOT_FOUND');
  });

  test('an invalid configuration is a 400 naming why', async (t) => {
    const { api } = await started(t);
    const bad = await api('PUT', '/api/bootstrap/configs/x', 'admin', {
      servers: [{ ...ACCOUNT, securityMode: 'nosec' }],
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'TANDEM_ERR_VALIDATION');
    assert.match(bad.body.message, /does not fit the URI scheme/);
    const unknown = await api('PUT', '/api/bootstrap/configs/x', 'admin', {
      servers: [{ ...ACCOUNT, colour: 'red' }],
    });
    assert.equal(unknown.status, 400);
  });

  test('configurations hold device keys: only admins may read or change them', async (t) => {
    const { api } = await started(t);
    for (const role of ['read-only', 'operator']) {
      assert.equal((await api('GET', '/api/bootstrap/configs', role)).status, 403, role);
      assert.equal(
        (await api('PUT', '/api/bootstrap/configs/x', role, { servers: [ACCOUNT] })).status,
        403,
        role,
      );
    }
    assert.equal((await api('GET', '/api/bootstrap/configs', null)).status, 401);
  });

  test('POST /api/devices/{id}/bootstrap triggers a server-initiated bootstrap', async (t) => {
    const tandem = await startTandem(t);
    const token = (await issueToken(tandem.store.tokens, 'operator', 'op')).token;
    const device = await scriptedClient((request) =>
      request.method === Code.Post && request.path.join('/') === '1/0/9'
        ? { code: Code.Changed }
        : undefined,
    );
    t.after(() => device.close());
    await device.endpoint.request(udpPeer('127.0.0.1', tandem.address('coap')!.port), {
      code: Code.Post,
      path: 'rd',
      query: ['ep=api-bs', 'lt=60', 'lwm2m=1.1'],
      contentFormat: 40,
      payload: '</1/0>,</3/0>',
    });
    const http = `http://127.0.0.1:${tandem.address('http')!.port}`;
    const executed = device.until(1);
    const res = await fetch(`${http}/api/devices/api-bs/bootstrap`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { coapCode: '2.04' });
    await executed;
    assert.equal(device.received[0]!.path, '/1/0/9');
    const missing = await fetch(`${http}/api/devices/nobody/bootstrap`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(missing.status, 404);
  });
});
