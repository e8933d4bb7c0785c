import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FleetSummary } from '../../src/sim/index.js';
import { type CliRun, spawnCli } from '../cli/helpers.js';
import { startTandem } from '../helpers/tandem.js';
import { coapsAndApi, names, registeredCount, until } from './helpers.js';

const ADMIN_TOKEN = 'a3f1c9e07b5d2468aa10ce93f7b4d6e28c1f0a9b7d3e5c24';

/** `tandem sim ...` from its sources, as test/cli runs the CLI. */
const sim = (args: string[]) => spawnCli(['sim', ...args]);
const finish = (run: CliRun) => run.done;

describe('tandem sim', () => {
  test('sim --lwm2m 5 --mqtt 2 --duration 3 --json prints one JSON summary and exits 0', async (t) => {
    const tandem = await startTandem(t);
    const { code, stdout, stderr } = await finish(
      sim([
        '--lwm2m',
        '5',
        '--mqtt',
        '2',
        '--duration',
        '3',
        '--json',
        '--lwm2m-url',
        `coap://127.0.0.1:${tandem.address('coap')!.port}`,
        '--mqtt-url',
        `mqtt://127.0.0.1:${tandem.address('mqtt')!.port}`,
      ]),
    );
    assert.equal(code, 0, stderr);
    const summary = JSON.parse(stdout) as FleetSummary;
    assert.equal(summary.lwm2m.devices, 5);
    assert.equal(summary.lwm2m.peakRegistered, 5);
    assert.equal(summary.lwm2m.deregistrations, 5);
    assert.equal(summary.mqtt.peakConnected, 2);
    assert.ok(summary.messages.total > 0);
    assert.equal(summary.errors.count, 0, summary.errors.samples.join('\n'));
    assert.equal(await registeredCount(tandem, names('sim-', 0, 5)), 0, 'all de-registered');
  });

  test('SIGTERM stops cleanly: the devices de-register and the summary is printed', async (t) => {
    const tandem = await startTandem(t);
    const run = sim([
      '--lwm2m',
      '3',
      '--endpoint-prefix',
      'term-',
      '--lwm2m-url',
      `coap://127.0.0.1:${tandem.address('coap')!.port}`,
    ]);
    const done = finish(run);
    await until(
      '3 registrations',
      async () => (await registeredCount(tandem, names('term-', 0, 3))) === 3,
    );
    run.child.kill('SIGTERM');
    const { code, stdout } = await done;
    assert.equal(code, 0);
    assert.match(stdout, /lwm2m: 3\/3 started, 3 registered at peak/);
    assert.match(stdout, /3 de-registrations/);
    assert.equal(await registeredCount(tandem, names('term-', 0, 3)), 0);
  });

  test('--api-url creates the devices with their PSK first; they then register over DTLS', async (t) => {
    const tandem = await startTandem(t, {}, { adminToken: ADMIN_TOKEN });
    const key = '00112233445566778899aabbccddeeff';
    const args = [
      '--lwm2m',
      '3',
      '--endpoint-prefix',
      'api-',
      '--psk-prefix',
      'api-',
      '--psk-key',
      key,
      ...coapsAndApi(tandem, ADMIN_TOKEN),
    ];
    const first = await finish(sim(args));
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /devices: 3 created, 0 already there/);
    assert.match(first.stdout, /3 registered at peak/);
    const again = await finish(sim(args));
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /devices: 0 created, 3 already there/);
    const psk = await tandem.store.devices.findByPskIdentity('api-2');
    assert.equal(psk?.deviceId, 'api-2');
    assert.equal(psk?.key.toString('hex'), key);
  });

  test('an invalid command line exits 2 with the reason', async () => {
    const bad = await finish(sim(['--lwm2m', 'many']));
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--lwm2m/);
    const noKey = await finish(sim(['--lwm2m', '1', '--lwm2m-url', 'coaps://127.0.0.1:5684']));
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /--psk-prefix and --psk-key/);
    // More sockets than the open-file limit allows: said before any socket is opened.
    const tooMany = await finish(sim(['--lwm2m', '10000000']));
    assert.equal(tooMany.code, 2);
    assert.match(tooMany.stderr, /ulimit -n/);
  });

  test('a server that never answers: no device registers, exit 1', async () => {
    // Port 9 (discard) on loopback: nothing answers CoAP there.
    const r = await finish(
      sim(['--lwm2m', '1', '--lwm2m-url', 'coap://127.0.0.1:9', '--duration', '1', '--json']),
    );
    assert.equal(r.code, 1);
    assert.equal((JSON.parse(r.stdout) as FleetSummary).lwm2m.peakRegistered, 0);
  });
});
