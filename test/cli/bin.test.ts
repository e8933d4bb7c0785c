import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

const ROOT = join(import.meta.dirname, '../..');
const run = promisify(execFile);

// `npm test` builds before it runs the tests; this checks what `npm start` and the `tandem` bin run.
test('the built tandem bin runs and reports the package version', async () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const bin = join(ROOT, pkg.bin.tandem);
  assert.ok(existsSync(bin), `${bin} is built (run npm run build)`);
  assert.match(readFileSync(bin, 'utf8'), /^#!\/usr\/bin\/env node\n/);
  const { stdout } = await run(process.execPath, [bin, '--version']);
  assert.equal(stdout.trim(), pkg.version);
  const help = await run(process.execPath, [bin, 'start', '--help']);
  assert.match(help.stdout, /--bootstrap-dtls-port <port>/);
});
