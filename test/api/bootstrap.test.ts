import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, type TestContext, test } from 'node:test';
import { Code } from '../../src/coap/code.js';
import { udpPeer } from '../../src/coap/udp-transport.js';
import { issueToken } from '../../src/hub/api-tokens.js';
import { bootstrapConfigToJson, type ServerAccount } from '../../src/lwm2m/bootstrap/index.js';
import { startTandem } from '../helpers/tandem.js';
import { OSCORE_ACCOUNT } from '../lwm2m/bootstrap/config-store-contract.js';
import { scriptedClient } from '../lwm2m/bootstrap/scripted-client.js';

const ACCOUNT = {
  shortServerId: 3,
  uri: 'coaps://tandem.example:5684',
  securityMode: 'psk',
  publicKeyOrIdentity: Buffer.from('sensor-1').toString('base64'),
  secretKey: Buffer.from('00112233445566778899aabbccddeeff', 'hex').toString('base64'),
  lifetime: 600,
};

/** A plain CoAP account (loopback: NoSec is allowed there). */
const NOSEC_ACCOUNT: ServerAccount = {
  shortServerId: 4,
  uri: 'coap://tandem.example:5683',
  securityMode: 'nosec',
  lifetime: 60,
};

async function started(t: TestContext, host = '0.0.0.0') {
  const tandem = await startTandem(t, { host });
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

  test('an OSCORE context is given in hex, validated, and its Master Secret never shown (RFC 8613 §3.3)', async (t) => {
    const { tandem, api } = await started(t);
    const { oscore } = (
      bootstrapConfigToJson(OSCORE_ACCOUNT) as { servers: { oscore: Record<string, unknown> }[] }
    ).servers[0]!;
    const account = { ...NOSEC_ACCOUNT, oscore };
    const put = await api('PUT', '/api/bootstrap/configs/oscore-1', 'admin', {
      servers: [account],
    });
    assert.equal(put.status, 200);
    assert.deepEqual(put.body.config.servers[0].oscore, {
      senderId: '',
      recipientId: '01',
      aeadAlgorithm: 10,
      hmacAlgorithm: -10,
      masterSalt: '9e7ca92223786340',
      masterSecretSet: true,
    });
    const stored = await tandem.bootstrap.configs.get('oscore-1');
    assert.deepEqual(stored?.servers[0]?.oscore?.recipientId, Buffer.from([1]));

    const refused: [Record<string, unknown>, RegExp][] = [
      [{ recipientId: '0g' }, /pattern/],
      [{ masterSecret: '00' }, /masterSecret must be at least 16 bytes/],
      [{ aeadAlgorithm: 99 }, /aeadAlgorithm 99 is not a COSE AEAD algorithm/],
      [{ hmacAlgorithm: 1 }, /hmacAlgorithm 1 is not/],
      [
        { aeadAlgorithm: 12, recipientId: '0102' },
        /recipientId is 2 bytes; AEAD 12 allows at most 1/,
      ],
      [{ senderId: '01' }, /senderId and recipientId must differ/],
    ];
    for (const [change, message] of refused) {
      const bad = await api('PUT', '/api/bootstrap/configs/oscore-2', 'admin', {
        servers: [{ ...account, oscore: { ...oscore, ...change } }],
      });
      assert.equal(bad.status, 400, JSON.stringify(change));
      assert.match(bad.body.message, message);
    }
    const badBase64 = await api('PUT', '/api/bootstrap/configs/x', 'admin', {
      servers: [{ ...ACCOUNT, secretKey: 'not base64!' }],
    });
    assert.equal(badBase64.status, 400);
  });

  test('GET /api/bootstrap/sessions/{endpoint} shows the last bootstrap: steps, reads and accounts', async (t) => {
    // On loopback, where a NoSec Bootstrap-Request is allowed.
    const { tandem, api } = await started(t, '127.0.0.1');
    await tandem.bootstrap.configs.put('sess-1', {
      servers: [{ ...NOSEC_ACCOUNT, uri: 'coap://127.0.0.1:5683' }],
    });
    const device = await scriptedClient((r) => {
      if (r.method !== Code.Get) return undefined;
      if (r.path.length === 0) {
        return { code: Code.Content, contentFormat: 40, payload: '</>;lwm2m="1.2",</0/0>,</1>' };
      }
      return { code: Code.NotFound };
    });
    t.after(() => device.close());
    const bs = tandem.bootstrap.servers.get('bootstrap')!;
    const ended = Promise.race([once(bs, 'finished'), once(bs, 'failed')]);
    await device.bootstrapRequest(tandem.address('bootstrap')!.port, ['ep=sess-1']);
    await ended;
    const session = await api('GET', '/api/bootstrap/sessions/sess-1', 'operator');
    assert.equal(session.status, 200);
    assert.equal(session.body.state, 'finished');
    assert.equal(session.body.listener, 'bootstrap');
    assert.equal(session.body.lwm2mVersion, '1.2');
    assert.deepEqual(session.body.reads, [{ path: '/1', phase: 'before', code: '4.04' }]);
    assert.deepEqual(session.body.accounts, [
      { shortServerId: 4, securityInstance: 1, serverInstance: 1 },
    ]);
    assert.deepEqual(
      session.body.steps.map((s: { operation: string }) => s.operation),
      ['discover', 'read', 'delete', 'write', 'write', 'finish'],
    );
    const none = await api('GET', '/api/bootstrap/sessions/nobody', 'operator');
    assert.equal(none.status, 404);
    assert.equal(none.body.code, 'TANDEM_ERR_BOOTSTRAP_SESSION_NOT_FOUND');
    assert.equal((await api('GET', '/api/bootstrap/sessions/sess-1', 'read-only')).status, 403);
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
