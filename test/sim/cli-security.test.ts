import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { deviceKey } from '../../src/sim/index.js';
import { runCli } from '../cli/helpers.js';
import { startTandem } from '../helpers/tandem.js';
import { tempDir } from '../helpers/tmp.js';
import { coapsAndApi } from './helpers.js';

const ADMIN_TOKEN = 'b7e2d4c19a0f3586bb21df04e8c5e7f39d2a1b0c8e4f6d35';

describe('tandem sim --rpk and --x509', () => {
  test('--rpk --api-url registers each device with its raw public key first; a run without --seed brings new keys', async (t) => {
    const tandem = await startTandem(t, {}, { adminToken: ADMIN_TOKEN });
    const args = [
      '--lwm2m',
      '2',
      '--endpoint-prefix',
      'rpkapi-',
      '--rpk',
      '--server-cert',
      join(tandem.config.dataDir, 'dtls', 'dev-cert.pem'),
      ...coapsAndApi(tandem, ADMIN_TOKEN),
    ];
    const first = await runCli(['sim', ...args, '--seed', '11']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /devices: 2 created, 0 already there/);
    assert.match(first.stdout, /2 registered at peak/);
    const spki = createPublicKey(deviceKey(1, 11)).export({ format: 'der', type: 'spki' });
    assert.equal((await tandem.store.devices.findByRawPublicKey(spki))?.deviceId, 'rpkapi-1');

    // The same seed under other names: the keys are those of the first devices.
    const taken = await runCli(['sim', ...args, '--seed', '11', '--endpoint-prefix', 'other-']);
    assert.equal(taken.code, 3);
    assert.match(taken.stderr, /HTTP 409, TANDEM_ERR_CREDENTIAL_CONFLICT/);

    const again = await runCli(['sim', ...args]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /devices: 0 created, 2 already there \(given the fleet's keys\)/);
    assert.match(again.stdout, /2 registered at peak/);
    assert.equal(
      await tandem.store.devices.findByRawPublicKey(spki),
      undefined,
      'the key of the seeded run was replaced',
    );
  });

  test('--x509 writes a new CA when there is none; once the server trusts it the devices register', async (t) => {
    const dir = tempDir(t);
    const ca = join(dir, 'ca', 'sim-ca.pem');
    const caKey = join(dir, 'ca', 'sim-ca.key');
    const args = (server: Awaited<ReturnType<typeof startTandem>>) => [
      'sim',
      '--lwm2m',
      '2',
      '--endpoint-prefix',
      'cert-',
      '--x509',
      '--ca-cert',
      ca,
      '--ca-key',
      caKey,
      '--server-cert',
      join(server.config.dataDir, 'dtls', 'dev-cert.pem'),
      '--lwm2m-url',
      `coaps://127.0.0.1:${server.address('coaps')!.port}`,
      '--duration',
      '2',
    ];
    // A server without a trust store asks for no certificate: the devices cannot register.
    const untrusting = await startTandem(t);
    const created = await runCli(args(untrusting));
    assert.match(created.stderr, /created a CA in .*sim-ca\.pem .*--lwm2m-trust-store/);
    assert.equal(created.code, 1, 'no device registered');
    assert.ok(existsSync(ca));
    assert.equal(statSync(caKey).mode & 0o077, 0, 'the CA key is readable by its owner only');

    const trusting = await startTandem(t, { lwm2m: { trustStore: ca } });
    const registered = await runCli(args(trusting));
    assert.equal(registered.code, 0, registered.stderr);
    assert.doesNotMatch(registered.stderr, /created a CA/, 'the CA is reused');
    assert.match(registered.stdout, /2 registered at peak/);
  });

  test('invalid security flags exit 2 with the reason', async () => {
    const cases: [string[], RegExp][] = [
      [['--rpk', '--x509'], /--rpk and --x509 exclude each other/],
      [['--rpk', '--lwm2m-url', 'coaps://127.0.0.1:5684'], /--rpk needs --server-cert/],
      [['--rpk', '--server-cert', '/nonexistent.pem'], /cannot read --server-cert/],
      [
        ['--x509', '--ca-cert', '/nonexistent/ca.pem', '--ca-key', import.meta.filename],
        /ca\.pem is missing: give both CA files/,
      ],
    ];
    for (const [flags, reason] of cases) {
      const r = await runCli(['sim', '--lwm2m', '1', ...flags]);
      assert.equal(r.code, 2, flags.join(' '));
      assert.match(r.stderr, reason);
    }
  });
});
