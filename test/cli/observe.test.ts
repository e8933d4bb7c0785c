import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { temperatureSensor as sensor } from '../helpers/lwm2m-device.js';
import { linesOf, runCli, spawnCli, startWithDevice } from './helpers.js';

describe('tandem observe', () => {
  test('prints the current value, then each notification, and cancels after --count (LwM2M-TS-Core 1.1 §6.4.1)', async (t) => {
    const { env, device, tandem } = await startWithDevice(t);
    const cli = spawnCli(['observe', 'dev1', '/3303/0/5700', '--count', '2'], { env });
    const [first] = await linesOf(cli, 1);
    assert.match(first!, /^\d{4}-\d\d-\d\dT[\d:.]+Z {2}\/3303\/0\/5700 {2}Sensor Value = 20 Cel$/);
    assert.equal(tandem.lwm2m.server.observations('dev1').length, 1);
    sensor(device).measure(23.25);
    await linesOf(cli, 2);
    sensor(device).measure(24.5);
    const { code, stdout, stderr } = await cli.done;
    assert.equal(code, 0, stderr);
    const lines = stdout.trimEnd().split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[1]!, /Z {2}\/3303\/0\/5700 {2}Sensor Value = 23\.25 Cel$/);
    assert.match(lines[2]!, /Z {2}\/3303\/0\/5700 {2}Sensor Value = 24\.5 Cel$/);
    assert.equal(tandem.lwm2m.server.observations('dev1').length, 0, 'cancelled at the end');
  });

  test('--json prints one object per line; Ctrl-C stops and cancels the observation', async (t) => {
    const { env, device, tandem } = await startWithDevice(t);
    const cli = spawnCli(['observe', 'dev1', '/3303/0', '--json'], { env });
    const [first] = await linesOf(cli, 1);
    const current = JSON.parse(first!);
    assert.equal(current.device, 'dev1');
    assert.equal(current.path, '/3303/0');
    assert.equal(current.resources['5700'].value, 20);
    sensor(device).measure(19.5);
    // Notifications of the instance: one line per value (5601 Min Measured Value, 5700...);
    // the client may notify once for the new minimum and again for the new value.
    let data: Record<string, unknown> | undefined;
    for (let n = 2; !data; n++) {
      const lines = (await linesOf(cli, n)).map((l) => JSON.parse(l));
      data = lines.slice(1).find((l) => l.path === '/3303/0/5700' && l.value === 19.5);
      for (const l of lines.slice(1)) {
        assert.equal(l.device, 'dev1');
        assert.match(l.path, /^\/3303\/0\/\d+$/);
        assert.ok(!Number.isNaN(Date.parse(l.ts)));
      }
    }
    assert.equal(data.unit, 'Cel');
    assert.equal(data.name, 'Sensor Value');
    cli.child.kill('SIGINT');
    const { code, stderr } = await cli.done;
    assert.equal(code, 0, stderr);
    assert.equal(tandem.lwm2m.server.observations('dev1').length, 0);
  });

  test('the device going away ends the observation with exit 5; errors exit 3 and 4', async (t) => {
    const { env, device } = await startWithDevice(t);
    const cli = spawnCli(['observe', 'dev1', '/3303/0/5700'], { env });
    await linesOf(cli, 1);
    await device.deregister();
    const ended = await cli.done;
    assert.equal(ended.code, 5);
    assert.match(ended.stderr, /^tandem: dev1 offline: the observation ended\n$/);

    const unknown = await runCli(['observe', 'ghost', '/3303/0/5700', '--count', '1'], env);
    assert.equal(unknown.code, 3);
    assert.match(unknown.stderr, /TANDEM_ERR_DEVICE_NOT_FOUND/);
  });

  test('--duration ends a quiet observation and cancels it; a path the device lacks exits 4', async (t) => {
    const { env, tandem } = await startWithDevice(t);
    const quiet = await runCli(['observe', 'dev1', '/3303/0/5700', '--duration', '1'], env);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.match(quiet.stdout, /^\S+Z {2}\/3303\/0\/5700 {2}Sensor Value = 20 Cel\n$/);
    assert.equal(tandem.lwm2m.server.observations('dev1').length, 0);

    const absent = await runCli(['observe', 'dev1', '/3303/7/5700', '--count', '1'], env);
    assert.equal(absent.code, 4);
    assert.match(absent.stderr, /CoAP 4\.04/);
  });
});
