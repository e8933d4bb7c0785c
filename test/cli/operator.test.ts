import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { describe, test } from 'node:test';
import { verifyPassword } from '../../src/hub/password.js';
import { ecPublicKey } from '../api/helpers.js';
import { startTandem } from '../helpers/tandem.js';
import { runCli } from './helpers.js';

const ADMIN = 'cli-admin-token-0123456789abcdef0123456789';
const tandem = runCli;

async function server(t: TestContext) {
  const running = await startTandem(t, {}, { adminToken: ADMIN });
  const url = `http://127.0.0.1:${running.address('http')!.port}`;
  return { running, url, env: { TANDEM_URL: url, TANDEM_TOKEN: ADMIN } };
}

describe('tandem devices and tokens (operator CLI)', () => {
  test('devices add, list, show and remove against a running server, as tables and JSON', async (t) => {
    const { env, running } = await server(t);
    const add = await tandem(
      [
        'devices',
        'add',
        'boiler-1',
        '--protocol',
        'lwm2m',
        '--psk-identity',
        'boiler-1',
        '--psk-key',
        '00112233445566778899aabbccddeeff',
        '--rpk',
        ecPublicKey(),
        '--tag',
        'plant-a',
        '--tag',
        'heat',
      ],
      env,
    );
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stdout, /^id: +boiler-1$/m);
    assert.match(add.stdout, /^psk: +identity boiler-1$/m);
    assert.match(add.stdout, /^rpk: +sha256 [0-9a-f]{64}$/m);
    assert.deepEqual(
      running.psk.key('boiler-1'),
      Buffer.from('00112233445566778899aabbccddeeff', 'hex'),
    );

    const mqttAdd = await tandem(
      [
        'devices',
        'add',
        'meter-7',
        '--protocol=mqtt',
        '--mqtt-username=meter-7',
        '--mqtt-password=pw',
        '--json',
      ],
      env,
    );
    assert.equal(mqttAdd.code, 0, mqttAdd.stderr);
    assert.deepEqual(JSON.parse(mqttAdd.stdout).credentials, { mqtt: { username: 'meter-7' } });

    const list = await tandem(['devices', 'list'], env);
    assert.equal(list.code, 0, list.stderr);
    const lines = list.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^ID +PROTOCOL +ONLINE +CREDENTIALS +TAGS +CREATED$/);
    assert.match(lines[1]!, /^boiler-1 +lwm2m +no +psk,rpk +plant-a,heat +\d{4}-/);
    assert.match(lines[2]!, /^meter-7 +mqtt +no +mqtt +- +\d{4}-/);
    assert.equal(lines.length, 3);

    const filtered = await tandem(['devices', 'list', '--protocol', 'mqtt', '--json'], env);
    assert.deepEqual(
      JSON.parse(filtered.stdout).map((d: { id: string }) => d.id),
      ['meter-7'],
    );
    const paged = await tandem(['devices', 'list', '--limit', '1', '--json'], env);
    assert.deepEqual(
      JSON.parse(paged.stdout).map((d: { id: string }) => d.id),
      ['boiler-1'],
    );

    const fromStdin = await tandem(
      [
        'devices',
        'add',
        'meter-8',
        '--protocol=mqtt',
        '--mqtt-username=meter-8',
        '--mqtt-password=-',
      ],
      env,
      'stdin-secret\n',
    );
    assert.equal(fromStdin.code, 0, fromStdin.stderr);
    const hash = (await running.store.devices.credentials('meter-8'))!.mqtt!.passwordHash;
    assert.equal(await verifyPassword('stdin-secret', hash), true, 'the password came from stdin');

    const show = await tandem(['devices', 'show', 'meter-7', '--json'], env);
    assert.equal(JSON.parse(show.stdout).id, 'meter-7');

    const remove = await tandem(['devices', 'remove', 'meter-7'], env);
    assert.equal(remove.code, 0, remove.stderr);
    assert.equal(remove.stdout, 'removed meter-7\n');
    assert.equal(await running.store.devices.get('meter-7'), undefined);
  });

  test('devices update rotates a password, removes a credential and replaces tags', async (t) => {
    const { env, running } = await server(t);
    await running.devices.create({
      id: 'pump-2',
      protocol: 'mqtt',
      tags: ['old'],
      credentials: {
        mqtt: { username: 'pump-2', password: 'first' },
        psk: { identity: 'pump-2', key: 'aa' },
      },
    });
    const update = await tandem(
      [
        'devices',
        'update',
        'pump-2',
        '--mqtt-username=pump-2',
        '--mqtt-password=second',
        '--remove-credential=psk',
        '--tag=new',
        '--json',
      ],
      env,
    );
    assert.equal(update.code, 0, update.stderr);
    const device = JSON.parse(update.stdout);
    assert.deepEqual(device.credentials, { mqtt: { username: 'pump-2' } });
    assert.deepEqual(device.tags, ['new']);
    const hash = (await running.store.devices.credentials('pump-2'))!.mqtt!.passwordHash;
    assert.equal(await verifyPassword('second', hash), true);
    assert.equal(running.psk.key('pump-2'), undefined);

    const nothing = await tandem(['devices', 'update', 'pump-2'], env);
    assert.equal(nothing.code, 2);
    assert.match(nothing.stderr, /nothing to change/);
    const badKind = await tandem(['devices', 'update', 'pump-2', '--remove-credential=key'], env);
    assert.equal(badKind.code, 2);
  });

  test('the server answering an error exits 3 with its code; flags override the environment', async (t) => {
    const { url, env } = await server(t);
    const missing = await tandem(['devices', 'show', 'ghost'], env);
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /no device ghost \(HTTP 404, TANDEM_ERR_DEVICE_NOT_FOUND\)/);

    const anonymousWrite = await tandem([
      'devices',
      'add',
      'x',
      '--protocol',
      'mqtt',
      '--url',
      url,
    ]);
    assert.equal(anonymousWrite.code, 3);
    assert.match(anonymousWrite.stderr, /TANDEM_ERR_UNAUTHORIZED/);

    const badKey = await tandem(
      ['devices', 'add', 'x', '--protocol', 'lwm2m', '--psk-identity', 'x', '--psk-key', 'zz'],
      env,
    );
    assert.equal(badKey.code, 3);
    assert.match(badKey.stderr, /credentials\.psk\.key.*TANDEM_ERR_VALIDATION/);

    const readOnly = await tandem(['tokens', 'create', '--role', 'read-only', '--json'], env);
    const { token } = JSON.parse(readOnly.stdout);
    const forbidden = await tandem(
      ['devices', 'add', 'x', '--protocol', 'mqtt', '--token', token],
      env,
    );
    assert.equal(forbidden.code, 3);
    assert.match(forbidden.stderr, /TANDEM_ERR_FORBIDDEN/);
    assert.equal((await tandem(['devices', 'list', '--token', token], env)).code, 0);
  });
});
