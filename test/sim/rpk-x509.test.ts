import assert from 'node:assert/strict';
import { createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Code } from '../../src/coap/code.js';
import type { Tandem } from '../../src/server/tandem.js';
import {
  deviceKey,
  type FleetOptionsInput,
  loadOrCreateCa,
  serverTrust,
} from '../../src/sim/index.js';
import { tempDir } from '../helpers/tmp.js';
import { allRegistered, QUICK, startTandemAndFleet, until } from './helpers.js';

/** The development certificate a test Tandem generated for its coaps listener, as trust. */
const devCertTrust = (tandem: Tandem) =>
  serverTrust(readFileSync(join(tandem.config.dataDir, 'dtls', 'dev-cert.pem'), 'utf8'));

/** Devices `<prefix>0..count-1` over the Tandem's coaps, trusting its development certificate. */
const overCoaps =
  (count: number, prefix: string, options: Partial<FleetOptionsInput>) => (tandem: Tandem) => ({
    lwm2m: count,
    lwm2mUrl: `coaps://127.0.0.1:${tandem.address('coaps')!.port}`,
    endpointPrefix: prefix,
    serverTrust: devCertTrust(tandem),
    ...options,
  });

const spkiOf = (index: number) =>
  createPublicKey(deviceKey(index, QUICK.seed)).export({ format: 'der', type: 'spki' });

describe('simulated devices with raw public keys and X.509 certificates', () => {
  test('devices register over DTLS with their raw public keys (RFC 7250, LwM2M-TS-Transport 1.1 §5.2.8.2)', async (t) => {
    const { tandem, fleet } = await startTandemAndFleet(
      t,
      overCoaps(3, 'rpk-', { security: 'rpk' }),
      {},
      async (tandem) => {
        // The keys come from the seed: the registry can hold them before the fleet starts.
        for (let i = 0; i < 3; i++) {
          await tandem.store.devices.create({
            id: `rpk-${i}`,
            protocol: 'lwm2m',
            credentials: { rpk: { publicKey: spkiOf(i) } },
          });
        }
      },
    );
    await allRegistered(tandem, 'rpk-', 3);
    const reg = await tandem.lwm2m.server.getRegistration('rpk-2');
    assert.deepEqual(reg!.peer.identity, { kind: 'rpk', publicKey: spkiOf(2) });
    assert.deepEqual((await fleet.identityOf(2))!.spki, spkiOf(2));
    const read = await tandem.lwm2m.server.read('rpk-2', { path: '/3303/0/5700' });
    assert.equal(read.code, Code.Content);
    const summary = await fleet.stop();
    assert.equal(summary.lwm2m.deregistrations, 3);
    assert.equal(summary.errors.count, 0, summary.errors.samples.join('\n'));
  });

  test("a device whose key is no device's is refused 4.03, and the fleet counts the error", async (t) => {
    const { tandem, fleet } = await startTandemAndFleet(
      t,
      overCoaps(1, 'stranger-', { security: 'rpk' }),
    );
    await until('an error', () => fleet.counters.errors >= 1);
    assert.match(fleet.errorSamples[0]!, /^stranger-0: .*4\.03/);
    assert.equal(await tandem.lwm2m.server.getRegistration('stranger-0'), undefined);
  });

  test('devices register with certificates of a CA in the trust store, CN = endpoint name (LwM2M-TS-Transport 1.1 §5.2.8.3)', async (t) => {
    const dir = tempDir(t);
    const ca = await loadOrCreateCa(join(dir, 'ca.pem'), join(dir, 'ca.key'));
    assert.equal(ca.created, true);
    const { tandem, fleet } = await startTandemAndFleet(
      t,
      overCoaps(3, 'x509-', { security: 'x509', ca }),
      { lwm2m: { trustStore: join(dir, 'ca.pem') } },
    );
    await allRegistered(tandem, 'x509-', 3);
    const identity = (await tandem.lwm2m.server.getRegistration('x509-1'))!.peer.identity!;
    assert.equal(identity.kind, 'x509');
    assert.equal(identity.kind === 'x509' && identity.subject, 'CN=x509-1');
    const cert = new X509Certificate((await fleet.identityOf(1))!.certificate!);
    assert.ok(cert.checkIssued(new X509Certificate(ca.cert)));
    assert.ok(cert.verify(new X509Certificate(ca.cert).publicKey));
    const summary = await fleet.stop();
    assert.equal(summary.errors.count, 0, summary.errors.samples.join('\n'));
  });

  test('a certificate from a CA the server does not trust gets no session', async (t) => {
    const dir = tempDir(t);
    const trusted = await loadOrCreateCa(join(dir, 'ca.pem'), join(dir, 'ca.key'));
    const other = await loadOrCreateCa(join(dir, 'other.pem'), join(dir, 'other.key'));
    assert.notEqual(trusted.cert, other.cert);
    const { tandem, fleet } = await startTandemAndFleet(
      t,
      overCoaps(1, 'untrusted-', { security: 'x509', ca: other, requestTimeoutMs: 1000 }),
      { lwm2m: { trustStore: join(dir, 'ca.pem') } },
    );
    await until('an error', () => fleet.counters.errors >= 1);
    assert.equal(await tandem.lwm2m.server.getRegistration('untrusted-0'), undefined);
  });
});
