import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runCli, startWithDevice } from './helpers.js';

describe('tandem read (live operations through the API)', () => {
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
});
