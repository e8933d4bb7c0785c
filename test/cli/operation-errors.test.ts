import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runCli, startWithDevice, tokenOf } from './helpers.js';

describe('tandem read/write/exec errors: one line on stderr and a documented exit code', () => {
  test('an unknown device exits 3; the device answering 4.04 or 4.05 exits 4 with its CoAP code', async (t) => {
    const { env } = await startWithDevice(t);
    const unknown = await runCli(['read', 'ghost', '/3/0/0'], env);
    assert.equal(unknown.code, 3);
    assert.match(unknown.stderr, /^tandem: .*\(HTTP 404, TANDEM_ERR_DEVICE_NOT_FOUND\)\n$/);

    // LwM2M-TS-Core 1.1 §6.3.1: a Read of an absent instance is answered 4.04 Not Found.
    const absent = await runCli(['read', 'dev1', '/3303/9'], env);
    assert.equal(absent.code, 4);
    assert.match(
      absent.stderr,
      /^tandem: .*\(CoAP 4\.04, HTTP 404, TANDEM_ERR_LWM2M_NOT_FOUND\)\n$/,
    );

    // LwM2M-TS-Core 1.1 §6.3.3: Execute on a resource that is not executable is 4.05.
    const notExecutable = await runCli(['exec', 'dev1', '/3/0/0'], env);
    assert.equal(notExecutable.code, 4);
    assert.match(notExecutable.stderr, /CoAP 4\.05/);
  });

  test('a device that does not answer within --timeout exits 5', async (t) => {
    const { env, endpoint } = await startWithDevice(t);
    // The device's socket is gone but its registration stays: requests go unanswered.
    await endpoint.close();
    const silent = await runCli(['read', 'dev1', '/3/0/0', '--timeout', '0.5'], env);
    assert.equal(silent.code, 5);
    assert.match(silent.stderr, /^tandem: .*\(HTTP 504, TANDEM_ERR_DEVICE_TIMEOUT\)\n$/);
  });

  test('no token exits 3 with 401 for a write; a read-only token exits 3 with 403', async (t) => {
    const { env, url, tandem } = await startWithDevice(t);
    const anonymous = await runCli(['write', 'dev1', '/3/0/14', '+01:00', '--url', url], {});
    assert.equal(anonymous.code, 3);
    assert.match(anonymous.stderr, /HTTP 401, TANDEM_ERR_UNAUTHORIZED/);
    const readOnly = await tokenOf(tandem, 'read-only');
    const forbidden = await runCli(['exec', 'dev1', '/3/0/4', '--token', readOnly], env);
    assert.equal(forbidden.code, 3);
    assert.match(forbidden.stderr, /HTTP 403, TANDEM_ERR_FORBIDDEN/);
    const read = await runCli(['read', 'dev1', '/3/0/0', '--token', readOnly], env);
    assert.equal(read.code, 0, read.stderr);
    assert.equal(read.stdout, 'Manufacturer = Tandem Labs\n');
  });

  test('a malformed path or timeout is a usage error (exit 2); help documents exits 4 and 5', async () => {
    for (const args of [
      ['read', 'dev1', '/3/x'],
      ['read', 'dev1', '/1/2/3/4/5'],
      ['read', 'dev1', '/70000'],
      ['read', 'dev1', '/3', '--timeout', '0'],
      ['observe', 'dev1', '/3', '--count', '0'],
    ]) {
      const r = await runCli(args, {});
      assert.equal(r.code, 2, args.join(' '));
    }
    const help = await runCli(['read', '--help'], {});
    assert.equal(help.code, 0);
    assert.match(help.stdout, /exits 4 when the device answered an error/);
    assert.match(help.stdout, /5 when it is offline or did not answer within --timeout/);
    assert.match(help.stdout, /TANDEM_TOKEN/);
  });
});
