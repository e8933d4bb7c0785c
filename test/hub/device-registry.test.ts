import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { describe, test } from 'node:test';
import { DeviceRegistry, type RegistryEvents } from '../../src/hub/device-registry.js';
import { HubError } from '../../src/hub/errors.js';
import { PskCache } from '../../src/hub/psk-cache.js';
import type { DeviceCredentials } from '../../src/store/ports.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { ecPublicKey, selfSignedCertificate } from '../api/helpers.js';

function setup(t: TestContext) {
  const store = new SqliteStore({ dataDir: ':memory:' });
  t.after(() => store.close());
  const psk = new PskCache();
  const revoked: [string, readonly string[]][] = [];
  const revokedCredentials: DeviceCredentials[] = [];
  const listenerErrors: string[] = [];
  const registry = new DeviceRegistry({
    store: store.devices,
    psk,
    onRevoke: (id, kinds, credentials) => {
      revoked.push([id, kinds]);
      revokedCredentials.push(credentials);
    },
    onListenerError: (_err, event) => listenerErrors.push(event),
  });
  const events: [keyof RegistryEvents, unknown][] = [];
  for (const e of ['registered', 'updated', 'deleted', 'revoked', 'online', 'offline'] as const) {
    registry.events.on(e, (payload) => events.push([e, payload]));
  }
  /** A fake connection that records whether it was closed. */
  const session = (credential: 'mqtt' | 'psk' = 'mqtt') => {
    const s = { closed: 0, protocol: 'mqtt' as const, credential, close: () => void s.closed++ };
    return s;
  };
  return { store, psk, registry, revoked, revokedCredentials, events, session, listenerErrors };
}

const rejectsWith = (p: Promise<unknown>, code: string, field?: string) =>
  assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof HubError, String(err));
    assert.equal(err.code, code);
    if (field !== undefined) assert.equal(err.field, field);
    return true;
  });

describe('DeviceRegistry', () => {
  test('create derives the certificate subject, normalises the public key and warms the PSK cache', async (t) => {
    const { registry, store, psk, events } = setup(t);
    const certificate = selfSignedCertificate(t, 'meter-9');
    const publicKey = ecPublicKey();
    const device = await registry.create({
      id: 'meter-9',
      protocol: 'lwm2m',
      credentials: {
        x509: { certificate },
        rpk: { publicKey: publicKey.replace(/(.{20})/g, '$1\n') },
        psk: { identity: 'meter-9', key: 'CAFE' },
      },
    });
    assert.equal(device.credentials.x509?.subject, 'CN=meter-9');
    assert.match(device.credentials.x509?.notAfter ?? '', /^\d{4}-\d\d-\d\dT/);
    const stored = await store.devices.credentials('meter-9');
    assert.equal(stored?.rpk?.publicKey.toString('base64'), publicKey, 'line breaks dropped');
    assert.deepEqual(psk.key('meter-9'), Buffer.from([0xca, 0xfe]));
    assert.deepEqual(events, [['registered', { device }]]);
  });

  test('conflicting credentials name the field that conflicts', async (t) => {
    const { registry } = setup(t);
    const publicKey = ecPublicKey();
    await registry.create({
      id: 'a',
      protocol: 'mqtt',
      credentials: { rpk: { publicKey }, mqtt: { username: 'shared', password: 'p' } },
    });
    await rejectsWith(
      registry.create({ id: 'b', protocol: 'mqtt', credentials: { rpk: { publicKey } } }),
      'TANDEM_ERR_CREDENTIAL_CONFLICT',
      'credentials.rpk.publicKey',
    );
    await rejectsWith(
      registry.create({
        id: 'c',
        protocol: 'mqtt',
        credentials: { mqtt: { username: 'shared', password: 'q' } },
      }),
      'TANDEM_ERR_CREDENTIAL_CONFLICT',
      'credentials.mqtt.username',
    );
    await rejectsWith(
      registry.create({ id: 'a', protocol: 'mqtt' }),
      'TANDEM_ERR_DEVICE_EXISTS',
      'id',
    );
  });

  test('delete revokes every credential at once: PSK forgotten, sessions closed, hook called, events emitted', async (t) => {
    const { registry, psk, revoked, events, session } = setup(t);
    await registry.create({
      id: 'd',
      protocol: 'lwm2m',
      credentials: { psk: { identity: 'd-id', key: 'aa' } },
    });
    const a = session('mqtt');
    const b = session('psk');
    registry.attach('d', a);
    registry.attach('d', b);
    assert.equal(registry.isOnline('d'), true);
    events.length = 0;
    await registry.delete('d');
    assert.equal(psk.key('d-id'), undefined);
    assert.deepEqual([a.closed, b.closed], [1, 1]);
    assert.equal(registry.isOnline('d'), false);
    assert.deepEqual(revoked, [['d', ['mqtt', 'psk', 'rpk', 'x509']]]);
    assert.deepEqual(
      events.map(([e]) => e),
      ['offline', 'revoked', 'deleted'],
    );
    assert.deepEqual(events[1]![1], {
      id: 'd',
      kinds: ['mqtt', 'psk', 'rpk', 'x509'],
      sessionsClosed: 2,
    });
    await rejectsWith(registry.delete('d'), 'TANDEM_ERR_DEVICE_NOT_FOUND');
  });

  test('replacing one kind of credential closes only the sessions that used it', async (t) => {
    const { registry, session, revoked } = setup(t);
    await registry.create({
      id: 'e',
      protocol: 'lwm2m',
      credentials: {
        psk: { identity: 'e-old', key: 'aa' },
        mqtt: { username: 'e', password: 'p' },
      },
    });
    const overMqtt = session('mqtt');
    const overDtls = session('psk');
    registry.attach('e', overMqtt);
    registry.attach('e', overDtls);
    await registry.patch('e', { credentials: { psk: { identity: 'e-new', key: 'bb' } } });
    assert.deepEqual([overMqtt.closed, overDtls.closed], [0, 1]);
    assert.equal(registry.isOnline('e'), true, 'still online over MQTT');
    assert.deepEqual(revoked, [['e', ['psk']]]);
    await registry.patch('e', { tags: ['t'] });
    assert.equal(revoked.length, 1, 'a change without credentials revokes nothing');
  });

  test('tells onRevoke the revoked credentials as they were, for transports to find their sessions', async (t) => {
    const { registry, revokedCredentials } = setup(t);
    const key = ecPublicKey();
    const certificate = selfSignedCertificate(t, 'meter-1');
    await registry.create({
      id: 'g',
      protocol: 'lwm2m',
      credentials: {
        psk: { identity: 'g-id', key: 'aa' },
        rpk: { publicKey: key },
        x509: { certificate },
      },
    });
    await registry.patch('g', { credentials: { rpk: { publicKey: ecPublicKey() } } });
    assert.deepEqual(revokedCredentials[0], {
      rpk: { publicKey: Buffer.from(key, 'base64') },
    });
    await registry.delete('g');
    const all = revokedCredentials[1]!;
    assert.deepEqual(Object.keys(all).sort(), ['psk', 'rpk', 'x509']);
    assert.equal(all.psk?.identity, 'g-id');
    assert.notDeepEqual(all.rpk?.publicKey, Buffer.from(key, 'base64'), 'the replaced key');
    assert.equal(all.x509?.subject, 'CN=meter-1');
  });

  test('a release is idempotent and the last one makes the device offline', async (t) => {
    const { registry, events, session } = setup(t);
    await registry.create({ id: 'f', protocol: 'mqtt' });
    events.length = 0;
    const r1 = registry.attach('f', session());
    const r2 = registry.attach('f', session());
    r1();
    r1();
    assert.equal(registry.isOnline('f'), true);
    r2();
    assert.equal(registry.isOnline('f'), false);
    assert.deepEqual(
      events.map(([e]) => e),
      ['online', 'offline'],
    );
  });

  test('an MQTT authentication racing a deletion is refused (the password check is rerun)', async (t) => {
    const { registry, session } = setup(t);
    await registry.create({
      id: 'g',
      protocol: 'mqtt',
      credentials: { mqtt: { username: 'g', password: 'pw' } },
    });
    const conn = session();
    // The registry looks the user up at once and then spends a scrypt verification off the
    // event loop; the deletion completes within that window.
    const auth = registry.authenticateMqtt(
      { username: 'g', password: Buffer.from('pw') },
      false,
      conn,
    );
    const deletion = registry.delete('g');
    const outcome = await auth;
    await deletion;
    assert.equal(outcome.accept, false);
    assert.equal(registry.isOnline('g'), false);
    assert.equal(conn.closed, 0, 'never accepted, so nothing to close');
  });

  test('an accepted MQTT authentication makes the device online until released', async (t) => {
    const { registry, session } = setup(t);
    await registry.create({
      id: 'h',
      protocol: 'mqtt',
      credentials: { mqtt: { username: 'h', password: 'pw' } },
    });
    const outcome = await registry.authenticateMqtt(
      { username: 'h', password: Buffer.from('pw') },
      false,
      session(),
    );
    assert.equal(outcome.accept, true);
    assert.equal(outcome.accept && outcome.deviceId, 'h');
    assert.equal(registry.isOnline('h'), true);
    outcome.release?.();
    assert.equal(registry.isOnline('h'), false);
    const anonymous = await registry.authenticateMqtt({}, true, session());
    assert.deepEqual(anonymous, { accept: true });
  });

  test('a failing event listener does not fail the operation nor stop other listeners', async (t) => {
    const { registry, listenerErrors, events } = setup(t);
    registry.events.on('registered', () => {
      throw new Error('consumer bug');
    });
    await registry.create({ id: 'i', protocol: 'mqtt' });
    assert.deepEqual(listenerErrors, ['registered']);
    assert.equal(events.filter(([e]) => e === 'registered').length, 1);
  });

  test('ids, tags and metadata are checked with the offending field named', async (t) => {
    const { registry } = setup(t);
    await rejectsWith(
      registry.create({ id: 'a+b', protocol: 'mqtt' }),
      'TANDEM_ERR_VALIDATION',
      'id',
    );
    await rejectsWith(registry.create({ id: '', protocol: 'mqtt' }), 'TANDEM_ERR_VALIDATION', 'id');
    await rejectsWith(
      registry.create({ id: 'x', protocol: 'mqtt', tags: Array(33).fill('t') }),
      'TANDEM_ERR_VALIDATION',
      'tags',
    );
    await rejectsWith(
      registry.create({ id: 'x', protocol: 'mqtt', metadata: { big: 'x'.repeat(17_000) } }),
      'TANDEM_ERR_VALIDATION',
      'metadata',
    );
    await rejectsWith(
      registry.create({
        id: 'x',
        protocol: 'mqtt',
        credentials: { mqtt: { username: 'a\nb', password: 'p' } },
      }),
      'TANDEM_ERR_VALIDATION',
      'credentials.mqtt.username',
    );
    await rejectsWith(registry.patch('missing', { tags: [] }), 'TANDEM_ERR_DEVICE_NOT_FOUND');
  });
});

describe('MQTT authentication by client certificate', () => {
  test('a verified certificate whose subject is a device identifies it; once deleted it is refused beyond loopback (0x87)', async (t) => {
    const { registry, session } = setup(t);
    const pem = selfSignedCertificate(t, 'cam-3');
    const { X509Certificate } = await import('node:crypto');
    const raw = new X509Certificate(pem).raw;
    await registry.create({
      id: 'cam-3',
      protocol: 'mqtt',
      credentials: { x509: { certificate: pem } },
    });
    const ok = await registry.authenticateMqtt({ peerCertificate: { raw } }, false, session());
    assert.deepEqual(
      {
        accept: ok.accept,
        deviceId: ok.accept && ok.deviceId,
        credential: ok.accept && ok.credential,
      },
      { accept: true, deviceId: 'cam-3', credential: 'x509' },
    );
    assert.equal(registry.isOnline('cam-3'), true);
    await registry.delete('cam-3');
    assert.equal(registry.isOnline('cam-3'), false);
    const refused = await registry.authenticateMqtt({ peerCertificate: { raw } }, false, session());
    // MQTT 5.0 §3.2.2.2: 0x87 Not authorized.
    assert.deepEqual(refused, {
      accept: false,
      reasonCode: 0x87,
      reasonString: 'credentials required',
    });
  });
});
