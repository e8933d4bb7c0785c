import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Lwm2mClient } from '../../src/lwm2m/client/index.js';
import { runCli, startWithDevice } from './helpers.js';

/** The value of resource `resourceId` of instance 0 of object `objectId`, on the device itself. */
const valueAt = (device: Lwm2mClient, objectId: number, resourceId: number) =>
  (device.objects.get(objectId)!.instances.get(0)!.get(resourceId) as { value: unknown }).value;

describe('tandem write and exec (live operations through the API)', () => {
  test('write types a value by the model; --values, --resources with --update; --string keeps text', async (t) => {
    const { env, device } = await startWithDevice(t);
    const write = await runCli(['write', 'dev1', '/3303/0/5750', 'greenhouse'], env);
    assert.equal(write.code, 0, write.stderr);
    assert.equal(write.stdout, 'written /3303/0/5750\n');
    assert.equal(valueAt(device, 3303, 5750), 'greenhouse');

    const time = await runCli(['write', 'dev1', '/3/0/13', '1700000000', '--json'], env);
    assert.equal(time.code, 0, time.stderr);
    assert.deepEqual(JSON.parse(time.stdout), { device: 'dev1', path: '/3/0/13', written: true });

    const text = await runCli(['write', 'dev1', '/3303/0/5750', '42', '--string'], env);
    assert.equal(text.code, 0, text.stderr);
    assert.equal(valueAt(device, 3303, 5750), '42');

    const update = await runCli(
      ['write', 'dev1', '/3/0', '--update', '--resources', '{"14":"+02:00","15":"Europe/Paris"}'],
      env,
    );
    assert.equal(update.code, 0, update.stderr);
    assert.equal(update.stdout, 'updated /3/0\n');
    assert.equal(valueAt(device, 3, 14), '+02:00');
    assert.equal(valueAt(device, 3, 15), 'Europe/Paris');
    assert.equal(valueAt(device, 3, 0), 'Tandem Labs', 'a partial update keeps the others');

    // A multiple resource: its instances replaced by those given (Server object, TS-Core 1.2).
    const values = await runCli(
      ['write', 'dev1', '/1/0/25', '--values', '{"0":"1.1","1":"1.2"}'],
      env,
    );
    assert.equal(values.code, 0, values.stderr);
    const versions = device.objects.get(1)!.instances.get(0)!.get(25) as Map<number, unknown>;
    assert.deepEqual(
      [...versions].map(([ri, v]) => [ri, (v as { value: unknown }).value]),
      [
        [0, '1.1'],
        [1, '1.2'],
      ],
    );

    const neither = await runCli(['write', 'dev1', '/3/0/14'], env);
    assert.equal(neither.code, 2);
    assert.match(neither.stderr, /give one of: a value, --values or --resources/);
    const badJson = await runCli(['write', 'dev1', '/3/0', '--resources', '{'], env);
    assert.equal(badJson.code, 2);
  });

  test('exec runs a resource with and without arguments', async (t) => {
    const { env, reboots } = await startWithDevice(t);
    const exec = await runCli(['exec', 'dev1', '/3/0/4'], env);
    assert.equal(exec.code, 0, exec.stderr);
    assert.equal(exec.stdout, 'executed /3/0/4\n');
    assert.equal(reboots(), 1);
    const withArgs = await runCli(['exec', 'dev1', '/3/0/4', "0='now'", '--json'], env);
    assert.equal(withArgs.code, 0, withArgs.stderr);
    assert.deepEqual(JSON.parse(withArgs.stdout), {
      device: 'dev1',
      path: '/3/0/4',
      executed: true,
    });
    assert.equal(reboots(), 2);
    const bad = await runCli(['exec', 'dev1', '/3/0/4', 'not arguments'], env);
    assert.equal(bad.code, 3);
    assert.match(bad.stderr, /^tandem: .*\(HTTP 400, TANDEM_ERR_VALIDATION\)\n$/);
  });
});
