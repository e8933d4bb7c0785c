import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { verifyPassword } from '../../src/hub/password.js';
import { apiWithStore, ecPublicKey, selfSignedCertificate } from './helpers.js';

describe('device routes', () => {
  test('POST /api/devices creates a device with every kind of credential; none comes back in clear', async (t) => {
    const { call, store, psk } = await apiWithStore(t);
    const certificate = selfSignedCertificate(t, 'dev1');
    const res = await call('POST', '/api/devices', {
      as: 'operator',
      body: {
        id: 'dev1',
        protocol: 'lwm2m',
        credentials: {
          psk: { identity: 'dev1-id', key: '000102030405060708090a0b0c0d0e0f' },
          rpk: { publicKey: ecPublicKey() },
          x509: { certificate },
          mqtt: { username: 'u1', password: 'secret-pw' },
        },
        tags: ['plant-a'],
        metadata: { site: 'north' },
      },
    });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.headers.location, '/api/devices/dev1');
    const body = res.json();
    assert.equal(body.id, 'dev1');
    assert.equal(body.protocol, 'lwm2m');
    assert.deepEqual(body.tags, ['plant-a']);
    assert.deepEqual(body.metadata, { site: 'north' });
    assert.equal(body.online, false);
    assert.match(body.createdAt, /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual(body.credentials.mqtt, { username: 'u1' });
    assert.deepEqual(body.credentials.psk, { identity: 'dev1-id' });
    assert.match(body.credentials.rpk.fingerprint, /^[0-9a-f]{64}$/);
    assert.equal(body.credentials.x509.subject, 'CN=dev1');
    assert.doesNotMatch(res.body, /secret-pw|000102030405|BEGIN CERTIFICATE/);

    const stored = await store.devices.credentials('dev1');
    assert.ok(await verifyPassword('secret-pw', stored!.mqtt!.passwordHash), 'password hashed');
    assert.notEqual(stored!.mqtt!.passwordHash, 'secret-pw');
    assert.deepEqual(psk.key('dev1-id'), Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex'));

    const shown = await call('GET', '/api/devices/dev1', { as: 'read-only' });
    assert.equal(shown.statusCode, 200);
    assert.deepEqual(shown.json(), body);
  });

  test('a device id or credential identity already taken is a 409 naming the field', async (t) => {
    const { call } = await apiWithStore(t);
    const make = (id: string, identity: string) =>
      call('POST', '/api/devices', {
        as: 'operator',
        body: { id, protocol: 'lwm2m', credentials: { psk: { identity, key: 'aa' } } },
      });
    assert.equal((await make('a', 'id-a')).statusCode, 201);
    const sameId = await make('a', 'id-b');
    assert.equal(sameId.statusCode, 409);
    assert.equal(sameId.json().code, 'TANDEM_ERR_DEVICE_EXISTS');
    assert.equal(sameId.json().field, 'id');
    const sameIdentity = await make('b', 'id-a');
    assert.equal(sameIdentity.statusCode, 409);
    assert.deepEqual(
      { code: sameIdentity.json().code, field: sameIdentity.json().field },
      { code: 'TANDEM_ERR_CREDENTIAL_CONFLICT', field: 'credentials.psk.identity' },
    );
    assert.equal((await call('GET', '/api/devices/b', { as: 'admin' })).statusCode, 404);
  });

  const bad: [string, unknown, string][] = [
    ['a missing protocol', { id: 'x' }, 'protocol'],
    ['an unknown protocol', { id: 'x', protocol: 'zigbee' }, 'protocol'],
    ['an id with a slash', { id: 'a/b', protocol: 'mqtt' }, 'id'],
    ['an unknown property', { id: 'x', protocol: 'mqtt', colour: 'red' }, 'colour'],
    [
      'an unknown credential kind',
      { id: 'x', protocol: 'mqtt', credentials: { token: {} } },
      'credentials.token',
    ],
    [
      'a PSK key that is not hex',
      { id: 'x', protocol: 'lwm2m', credentials: { psk: { identity: 'i', key: 'xyz' } } },
      'credentials.psk.key',
    ],
    [
      'a PSK key longer than 64 bytes (RFC 4279 §5.4)',
      { id: 'x', protocol: 'lwm2m', credentials: { psk: { identity: 'i', key: 'ab'.repeat(65) } } },
      'credentials.psk.key',
    ],
    [
      'a public key that is not SPKI DER',
      { id: 'x', protocol: 'lwm2m', credentials: { rpk: { publicKey: 'aGVsbG8=' } } },
      'credentials.rpk.publicKey',
    ],
    [
      'a certificate that is not PEM',
      { id: 'x', protocol: 'lwm2m', credentials: { x509: { certificate: 'nope' } } },
      'credentials.x509.certificate',
    ],
    [
      'an MQTT credential without password',
      { id: 'x', protocol: 'mqtt', credentials: { mqtt: { username: 'u' } } },
      'credentials.mqtt.password',
    ],
    ['a tag with a comma', { id: 'x', protocol: 'mqtt', tags: ['ok', 'a,b'] }, 'tags.1'],
  ];
  for (const [what, body, field] of bad) {
    test(`POST /api/devices with ${what} is a 400 naming ${field}`, async (t) => {
      const { call } = await apiWithStore(t);
      const res = await call('POST', '/api/devices', { as: 'operator', body });
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().code, 'TANDEM_ERR_VALIDATION');
      assert.equal(res.json().field, field);
      assert.equal(res.json().statusCode, 400);
      assert.equal(res.json().error, 'Bad Request');
    });
  }

  test('an RSA public key is refused: LwM2M raw public keys are EC', async (t) => {
    const { call } = await apiWithStore(t);
    const { generateKeyPairSync } = await import('node:crypto');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    const res = await call('POST', '/api/devices', {
      as: 'operator',
      body: {
        id: 'x',
        protocol: 'lwm2m',
        credentials: {
          rpk: { publicKey: rsa.export({ format: 'der', type: 'spki' }).toString('base64') },
        },
      },
    });
    assert.equal(res.statusCode, 400);
    assert.match(res.json().message, /elliptic-curve/);
  });

  test('a body that is not JSON is a coded 400', async (t) => {
    const { app, tokens } = await apiWithStore(t);
    const res = await app.inject({
      method: 'POST',
      url: '/api/devices',
      headers: { authorization: `Bearer ${tokens.operator}`, 'content-type': 'application/json' },
      payload: '{"id":',
    });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().code, 'TANDEM_ERR_BAD_REQUEST');
  });

  test('GET /api/devices filters by protocol and tag and pages with after/limit', async (t) => {
    const { call, devices } = await apiWithStore(t);
    for (let i = 0; i < 7; i++) {
      await devices.create({
        id: `d${i}`,
        protocol: i % 2 ? 'mqtt' : 'lwm2m',
        tags: i < 3 ? ['first'] : [],
      });
    }
    const page1 = (await call('GET', '/api/devices?limit=3', { as: 'read-only' })).json();
    assert.deepEqual(
      page1.devices.map((d: { id: string }) => d.id),
      ['d0', 'd1', 'd2'],
    );
    assert.equal(page1.next, 'd2');
    const page3 = (await call('GET', '/api/devices?limit=3&after=d5', { as: 'read-only' })).json();
    assert.deepEqual(page3, { devices: [page3.devices[0]], next: null });
    assert.equal(page3.devices[0].id, 'd6');
    const exact = (await call('GET', '/api/devices?limit=7', { as: 'read-only' })).json();
    assert.equal(exact.devices.length, 7);
    assert.equal(exact.next, null, 'a page that ends the list has no cursor');

    const mqtt = (await call('GET', '/api/devices?protocol=mqtt', { as: 'read-only' })).json();
    assert.deepEqual(
      mqtt.devices.map((d: { id: string }) => d.id),
      ['d1', 'd3', 'd5'],
    );
    const tagged = (
      await call('GET', '/api/devices?tag=first&protocol=lwm2m', { as: 'read-only' })
    ).json();
    assert.deepEqual(
      tagged.devices.map((d: { id: string }) => d.id),
      ['d0', 'd2'],
    );
    const bad = await call('GET', '/api/devices?limit=0', { as: 'read-only' });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().field, 'limit');
  });

  test('a full page of the largest size still says that more devices follow', async (t) => {
    const { call, store } = await apiWithStore(t);
    const insert = store.db.prepare(
      "INSERT INTO devices (id, protocol, created_at, updated_at) VALUES (?, 'mqtt', 0, 0)",
    );
    store.db.transaction(() => {
      for (let i = 0; i < 1001; i++) insert.run(`d${String(i).padStart(4, '0')}`);
    })();
    const doc = (await call('GET', '/api/openapi.json')).json();
    const max = doc.paths['/api/devices'].get.parameters.find(
      (p: { name: string }) => p.name === 'limit',
    ).schema.maximum;
    const page = (await call('GET', `/api/devices?limit=${max}`, { as: 'read-only' })).json();
    assert.equal(page.devices.length, max);
    assert.equal(page.next, page.devices.at(-1).id);
    assert.equal(
      (await call('GET', `/api/devices?limit=${max + 1}`, { as: 'read-only' })).statusCode,
      400,
    );
  });

  test('GET /api/devices?online= filters by live connections, across pages', async (t) => {
    const { call, devices } = await apiWithStore(t);
    for (let i = 0; i < 6; i++) await devices.create({ id: `d${i}`, protocol: 'mqtt' });
    devices.attach('d1', { protocol: 'mqtt', credential: 'mqtt', close: () => undefined });
    devices.attach('d4', { protocol: 'mqtt', credential: 'mqtt', close: () => undefined });
    const online = (
      await call('GET', '/api/devices?online=true&limit=1', { as: 'read-only' })
    ).json();
    assert.deepEqual(
      online.devices.map((d: { id: string; online: boolean }) => [d.id, d.online]),
      [['d1', true]],
    );
    const next = (
      await call('GET', `/api/devices?online=true&limit=1&after=${online.next}`, {
        as: 'read-only',
      })
    ).json();
    assert.deepEqual(
      next.devices.map((d: { id: string }) => d.id),
      ['d4'],
    );
    assert.equal(next.next, null);
    const offline = (await call('GET', '/api/devices?online=false', { as: 'read-only' })).json();
    assert.deepEqual(
      offline.devices.map((d: { id: string }) => d.id),
      ['d0', 'd2', 'd3', 'd5'],
    );
  });

  test('PATCH replaces tags, metadata and credentials; null removes a credential', async (t) => {
    const { call, psk } = await apiWithStore(t);
    await call('POST', '/api/devices', {
      as: 'operator',
      body: {
        id: 'p',
        protocol: 'lwm2m',
        credentials: {
          psk: { identity: 'old', key: 'aa' },
          mqtt: { username: 'pu', password: 'x' },
        },
        tags: ['a'],
      },
    });
    const res = await call('PATCH', '/api/devices/p', {
      as: 'operator',
      body: {
        tags: ['b', 'c'],
        metadata: { floor: 2 },
        credentials: { psk: { identity: 'new', key: 'bb' }, mqtt: null },
      },
    });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.deepEqual(body.tags, ['b', 'c']);
    assert.deepEqual(body.metadata, { floor: 2 });
    assert.deepEqual(body.credentials, { psk: { identity: 'new' } });
    assert.equal(psk.key('old'), undefined, 'the replaced identity is forgotten at once');
    assert.deepEqual(psk.key('new'), Buffer.from('bb', 'hex'));
    assert.equal(
      (await call('PATCH', '/api/devices/none', { as: 'operator', body: {} })).statusCode,
      404,
    );
  });

  test('DELETE removes the device and its PSK at once; a second DELETE is a 404', async (t) => {
    const { call, psk } = await apiWithStore(t);
    await call('POST', '/api/devices', {
      as: 'operator',
      body: { id: 'gone', protocol: 'lwm2m', credentials: { psk: { identity: 'g', key: 'aa' } } },
    });
    const res = await call('DELETE', '/api/devices/gone', { as: 'operator' });
    assert.equal(res.statusCode, 204);
    assert.equal(res.body, '');
    assert.equal(psk.key('g'), undefined);
    const again = await call('DELETE', '/api/devices/gone', { as: 'operator' });
    assert.equal(again.statusCode, 404);
    assert.equal(again.json().code, 'TANDEM_ERR_DEVICE_NOT_FOUND');
  });

  test('GET /api/devices/{id}/data returns stored telemetry newest first as {path, value, ts}', async (t) => {
    const { call, devices, store } = await apiWithStore(t);
    await devices.create({ id: 'sensor', protocol: 'lwm2m' });
    store.telemetry.append([
      { deviceId: 'sensor', path: '/3303/0/5700', ts: Date.UTC(2026, 0, 1, 0, 0, 1), value: 20.5 },
      { deviceId: 'sensor', path: '/3303/0/5700', ts: Date.UTC(2026, 0, 1, 0, 0, 2), value: 21 },
      { deviceId: 'sensor', path: '/3/0/0', ts: Date.UTC(2026, 0, 1, 0, 0, 3), value: 'Acme' },
      { deviceId: 'other', path: '/3303/0/5700', ts: Date.UTC(2026, 0, 1), value: 1 },
    ]);
    const all = await call('GET', '/api/devices/sensor/data', { as: 'read-only' });
    assert.equal(all.statusCode, 200);
    assert.deepEqual(all.json(), [
      { path: '/3/0/0', value: 'Acme', ts: '2026-01-01T00:00:03.000Z' },
      { path: '/3303/0/5700', value: 21, ts: '2026-01-01T00:00:02.000Z' },
      { path: '/3303/0/5700', value: 20.5, ts: '2026-01-01T00:00:01.000Z' },
    ]);
    const temps = await call(
      'GET',
      `/api/devices/sensor/data?path=${encodeURIComponent('/3303/0/5700')}&from=2026-01-01T00:00:02Z&limit=5`,
      { as: 'read-only' },
    );
    assert.deepEqual(temps.json(), [
      { path: '/3303/0/5700', value: 21, ts: '2026-01-01T00:00:02.000Z' },
    ]);
    const until = await call(
      'GET',
      `/api/devices/sensor/data?to=${Date.UTC(2026, 0, 1, 0, 0, 1)}`,
      {
        as: 'read-only',
      },
    );
    assert.equal(until.json().length, 1);
    const one = await call('GET', '/api/devices/sensor/data?limit=1', { as: 'read-only' });
    assert.equal(one.json().length, 1);
    const badFrom = await call('GET', '/api/devices/sensor/data?from=yesterday', {
      as: 'read-only',
    });
    assert.equal(badFrom.statusCode, 400);
    assert.equal(badFrom.json().field, 'from');
    assert.equal(
      (await call('GET', '/api/devices/nobody/data', { as: 'read-only' })).statusCode,
      404,
    );
    const anonymous = await call('GET', '/api/devices/other/data', { as: 'read-only' });
    assert.equal(anonymous.statusCode, 200, 'data of an endpoint outside the registry is served');
    assert.equal(anonymous.json().length, 1);
    const none = await call('GET', '/api/devices/sensor/data?path=/9/9/9', { as: 'read-only' });
    assert.deepEqual(none.json(), [], 'a known device without such data is an empty list');
  });

  test('the OpenAPI document lists the device and token routes with bearer security', async (t) => {
    const { call } = await apiWithStore(t);
    const doc = (await call('GET', '/api/openapi.json')).json();
    for (const [path, methods] of Object.entries({
      '/api/devices': ['get', 'post'],
      '/api/devices/{id}': ['get', 'patch', 'delete'],
      '/api/devices/{id}/data': ['get'],
      '/api/events': ['get'],
      '/api/tokens': ['get', 'post'],
      '/api/tokens/{id}': ['delete'],
    })) {
      for (const m of methods) {
        assert.ok(doc.paths[path]?.[m], `${m} ${path} is documented`);
        assert.deepEqual(doc.paths[path][m].security, [{ bearer: [] }]);
      }
    }
    assert.deepEqual(doc.components.securitySchemes.bearer, { type: 'http', scheme: 'bearer' });
    assert.ok(doc.paths['/api/devices'].post.requestBody, 'the creation body is documented');
  });
});

describe('request bodies', () => {
  test('an empty JSON body is no body: DELETE accepts it, POST answers which field is missing', async (t) => {
    const { app, tokens, devices } = await apiWithStore(t);
    await devices.create({ id: 'x', protocol: 'mqtt' });
    const headers = {
      authorization: `Bearer ${tokens.operator}`,
      'content-type': 'application/json',
    };
    const del = await app.inject({ method: 'DELETE', url: '/api/devices/x', headers, payload: '' });
    assert.equal(del.statusCode, 204);
    const post = await app.inject({ method: 'POST', url: '/api/devices', headers, payload: '' });
    assert.equal(post.statusCode, 400);
    assert.equal(post.json().code, 'TANDEM_ERR_VALIDATION');
  });

  test('a body of another media type is a 415', async (t) => {
    const { app, tokens } = await apiWithStore(t);
    const res = await app.inject({
      method: 'POST',
      url: '/api/devices',
      headers: { authorization: `Bearer ${tokens.operator}`, 'content-type': 'text/xml' },
      payload: '<device/>',
    });
    assert.equal(res.statusCode, 415);
    assert.equal(res.json().code, 'TANDEM_ERR_UNSUPPORTED_MEDIA_TYPE');
  });
});
