import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runCli, startWithDevice } from './helpers.js';

describe('tandem read, write, exec (live operations through the API)', () => {
  test('read prints a resource as "Name = value unit", --json the API answer', async (t) => {
    const { env } = await startWithDevice(t);
    const read = await runCli(['read', 'dev1', '/3303/0/5700'], env);
    assert.equal(read.code, 0, read.stderr);
    assert.equal(read.stdout, 'Sensor Value = 20 Cel\n');

    const json = await runCli(['read', 'dev1', '3303/0/5700', '--json'], env);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), {
      path: '/3303/0/5700',
      value: 20,
      type: 'float',
      unit: 'Cel',
      name: 'Sensor Value',
    });

    const multiple = await runCli(['read', 'dev1', '/3/0/6'], env);
    assert.equal(
      multiple.stdout,
      'Available Power Sources[0] = 1\nAvailable Power Sources[1] = 5\n',
    );
    const time = await runCli(['read', 'dev1', '/3/0/13', '--format', 'tlv'], env);
    assert.equal(time.code, 0, time.stderr);
    assert.match(time.stdout, /^Current Time = \d+ \(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)\n$/);
  });

  test('read prints an instance and an object as a table of paths', async (t) => {
    const { env } = await startWithDevice(t);
    const instance = await runCli(['read', 'dev1', '/3/0'], env);
    assert.equal(instance.code, 0, instance.stderr);
    const lines = instance.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^PATH +NAME +VALUE +UNIT$/);
    assert.ok(
      lines.some((l) => /^\/3\/0\/0 +Manufacturer +Tandem Labs$/.test(l)),
      lines.join('\n'),
    );
    assert.ok(lines.some((l) => /^\/3\/0\/6\/1 +Available Power Sources +5$/.test(l)));

    const object = await runCli(['read', 'dev1', '/3303', '--format', 'senml-json'], env);
    assert.equal(object.code, 0, object.stderr);
    assert.match(object.stdout, /^\/3303\/0\/5700 +Sensor Value +20 +Cel$/m);
  });

  test('write types a value by the model; --resources with --update; --string keeps text', async (t) => {
    const { env } = await startWithDevice(t);
    const write = await runCli(['write', 'dev1', '/3303/0/5750', 'greenhouse'], env);
    assert.equal(write.code, 0, write.stderr);
    assert.equal(write.stdout, 'written /3303/0/5750\n');
    assert.equal(
      (await runCli(['read', 'dev1', '/3303/0/5750'], env)).stdout,
      'Application Type = greenhouse\n',
    );

    const time = await runCli(['write', 'dev1', '/3/0/13', '1700000000', '--json'], env);
    assert.equal(time.code, 0, time.stderr);
    assert.deepEqual(JSON.parse(time.stdout), { device: 'dev1', path: '/3/0/13', written: true });

    const text = await runCli(['write', 'dev1', '/3303/0/5750', '42', '--string'], env);
    assert.equal(text.code, 0, text.stderr);
    assert.equal(
      (await runCli(['read', 'dev1', '/3303/0/5750'], env)).stdout,
      'Application Type = 42\n',
    );

    const update = await runCli(
      ['write', 'dev1', '/3/0', '--update', '--resources', '{"14":"+02:00","15":"Europe/Paris"}'],
      env,
    );
    assert.equal(update.code, 0, update.stderr);
    assert.equal(update.stdout, 'updated /3/0\n');
    const after = JSON.parse((await runCli(['read', 'dev1', '/3/0', '--json'], env)).stdout);
    assert.equal(after.resources['14'].value, '+02:00');
    assert.equal(after.resources['15'].value, 'Europe/Paris');
    assert.equal(after.resources['0'].value, 'Tandem Labs', 'a partial update keeps the others');

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
