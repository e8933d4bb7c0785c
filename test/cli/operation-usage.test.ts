import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runCli } from './helpers.js';

describe('tandem read/write/exec/observe usage', () => {
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
