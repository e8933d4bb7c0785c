import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, test } from 'node:test';
import { startTandem } from '../helpers/tandem.js';
import { tempDir } from '../helpers/tmp.js';
import { runCli as tandem } from './helpers.js';

describe('tandem tokens, usage errors and help (operator CLI)', () => {
  test('usage errors exit 2 and an unreachable server exits 1', async () => {
    const noProtocol = await tandem(['devices', 'add', 'x']);
    assert.equal(noProtocol.code, 2);
    assert.match(noProtocol.stderr, /--protocol/);
    const half = await tandem(['devices', 'add', 'x', '--protocol', 'lwm2m', '--psk-key', 'aa']);
    assert.equal(half.code, 2);
    assert.match(half.stderr, /--psk-identity and --psk-key go together/);
    assert.equal((await tandem(['tokens', 'create', '--role', 'root'])).code, 2);
    assert.equal((await tandem(['devices', 'list', '--url', 'ftp://x'])).code, 2);

    // A port that was free a moment ago: nothing listens on it.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    const down = await tandem(['devices', 'list', '--url', `http://127.0.0.1:${port}`]);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
  });

  test('tokens create --data-dir writes into the store of a running server; the token works at once', async (t) => {
    const dataDir = tempDir(t);
    const running = await startTandem(t, { dataDir });
    const url = `http://127.0.0.1:${running.address('http')!.port}`;
    const created = await tandem(['tokens', 'create', '--role', 'admin', '--data-dir', dataDir]);
    assert.equal(created.code, 0, created.stderr);
    const secret = created.stdout.trim();
    assert.match(secret, /^tdm_[A-Za-z0-9_-]{43}$/);
    assert.match(created.stderr, /\(admin\) created: keep the secret above/);

    const list = await tandem(['tokens', 'list', '--url', url, '--token', secret]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^ID +ROLE +CREATED +DESCRIPTION\n[0-9a-f]{12} +admin +\d{4}-/);

    const viaApi = await tandem(
      ['tokens', 'create', '--role', 'operator', '--description', 'ci', '--json'],
      { TANDEM_URL: url, TANDEM_TOKEN: secret },
    );
    assert.equal(viaApi.code, 0, viaApi.stderr);
    const issued = JSON.parse(viaApi.stdout);
    assert.equal(issued.role, 'operator');
    assert.equal(issued.description, 'ci');
    const revoke = await tandem(['tokens', 'revoke', issued.id, '--url', url, '--token', secret]);
    assert.equal(revoke.code, 0, revoke.stderr);
    assert.equal(revoke.stdout, `revoked ${issued.id}\n`);
    const after = await tandem(['devices', 'list', '--url', url, '--token', issued.token]);
    assert.equal(after.code, 3, 'a revoked token is refused even for reads');
  });

  test('help documents the exit codes and the environment', async () => {
    const help = await tandem(['devices', 'list', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /TANDEM_URL/);
    assert.match(help.stdout, /TANDEM_TOKEN/);
    assert.match(help.stdout, /3 the server answered an error/);
  });
});
