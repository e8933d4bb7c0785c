import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DeviceIdentities, deviceKey, loadOrCreateCa, serverTrust } from '../../src/sim/index.js';
import { tempDir } from '../helpers/tmp.js';

const spki = (k: ReturnType<typeof deviceKey>) =>
  createPublicKey(k).export({ format: 'der', type: 'spki' });

describe('simulated device credentials', () => {
  test('keys derive from the seed and the index: P-256 (RFC 7925 §4.3), the same seed the same key', () => {
    const key = deviceKey(3, 42);
    assert.equal(key.asymmetricKeyType, 'ec');
    assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.deepEqual(spki(deviceKey(3, 42)), spki(key));
    assert.notDeepEqual(spki(deviceKey(4, 42)), spki(key));
    assert.notDeepEqual(spki(deviceKey(3, 43)), spki(key));
    assert.notDeepEqual(spki(deviceKey(3, undefined)), spki(deviceKey(3, undefined)));
  });

  test('a device identity is made once and kept; X.509 needs a CA', async (t) => {
    const rpk = new DeviceIdentities('rpk', 1, undefined);
    const first = await rpk.of(0, 'd-0');
    assert.equal(await rpk.of(0, 'd-0'), first);
    assert.equal(first.certificate, undefined);
    assert.throws(() => new DeviceIdentities('x509', 1, undefined), /need a CA/);
    const dir = tempDir(t);
    const ca = await loadOrCreateCa(join(dir, 'ca.pem'), join(dir, 'ca.key'));
    const again = await loadOrCreateCa(join(dir, 'ca.pem'), join(dir, 'ca.key'));
    assert.equal(again.created, false);
    assert.equal(again.cert, ca.cert);
    const x509 = await new DeviceIdentities('x509', 1, ca).of(5, 'd-5');
    assert.match(x509.certificate!, /^-----BEGIN CERTIFICATE-----/);
    assert.deepEqual(x509.spki, spki(deviceKey(5, 1)));
  });

  test('a CA file that is not a CA, or without its key, is refused', async (t) => {
    const dir = tempDir(t);
    const ca = await loadOrCreateCa(join(dir, 'ca.pem'), join(dir, 'ca.key'));
    const leaf = await new DeviceIdentities('x509', 1, ca).of(0, 'leaf');
    writeFileSync(join(dir, 'leaf.pem'), leaf.certificate!);
    writeFileSync(
      join(dir, 'leaf.key'),
      leaf.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
    );
    await assert.rejects(loadOrCreateCa(join(dir, 'leaf.pem'), join(dir, 'leaf.key')), /not a CA/);
    await assert.rejects(
      loadOrCreateCa(join(dir, 'ca.pem'), join(dir, 'leaf.key')),
      /not the certificate's/,
    );
  });

  test('--server-cert: certificates become trust anchors, public keys pinned raw keys (RFC 7250 §4.3)', async (t) => {
    const dir = tempDir(t);
    const ca = await loadOrCreateCa(join(dir, 'ca.pem'), join(dir, 'ca.key'));
    const anchors = serverTrust(ca.cert);
    assert.equal(anchors.trustedCertificates?.length, 1);
    assert.equal(anchors.rawPublicKeyTrust, undefined);
    const server = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey;
    const pinned = serverTrust(server.export({ format: 'pem', type: 'spki' }) as string);
    assert.equal(pinned.rawPublicKeyTrust!(server.export({ format: 'der', type: 'spki' })), true);
    assert.equal(pinned.rawPublicKeyTrust!(spki(deviceKey(0, 1))), false);
    assert.throws(() => serverTrust('nothing here'), /no PEM certificate or public key/);
  });
});
