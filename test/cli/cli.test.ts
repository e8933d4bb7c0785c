import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import mqtt from 'mqtt';
import { SETTINGS } from '../../src/config/settings.js';
import { tempDir } from '../helpers/tmp.js';
import { spawnCli } from './helpers.js';

const ALL_PORTS_ZERO = [
  '--http-port=0',
  '--mqtt-port=0',
  '--mqtts-port=0',
  '--ws-port=0',
  '--coap-port=0',
  '--coaps-port=0',
  '--bootstrap-port=0',
  '--bootstrap-dtls-port=0',
];

function tandem(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawnCli(args, { cwd, env }).child;
}

/** Runs the CLI to its end. */
function run(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  return spawnCli(args, { cwd, env }).done;
}

/** Resolves with the parsed `listening` log line of a running server. */
function listening(child: ChildProcess): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    child.stdout!.on('data', (d) => {
      buffer += d;
      for (const line of buffer.split('\n')) {
        if (line.includes('"msg":"listening"')) resolve(JSON.parse(line));
      }
    });
    child.on('exit', (code) => reject(new Error(`exited with ${code} before listening`)));
  });
}

describe('tandem CLI', () => {
  test('start --help documents every flag and exits 0', async (t) => {
    const { code, stdout } = await run(['start', '--help'], tempDir(t));
    assert.equal(code, 0);
    for (const s of SETTINGS) {
      assert.ok(stdout.includes(s.flag), `help lists ${s.flag}`);
      assert.ok(stdout.includes(s.env), `help names ${s.env}`);
    }
    assert.match(stdout, /--config <path>/);
    assert.match(stdout, /Exit codes: 0 stopped cleanly, 1 could not start or failed, 2 invalid/);
  });

  test('--version prints the package version', async (t) => {
    const { code, stdout } = await run(['--version'], tempDir(t));
    assert.equal(code, 0);
    assert.match(stdout.trim(), /^\d+\.\d+\.\d+/);
  });

  test('an invalid flag value exits 2 naming the key', async (t) => {
    const { code, stderr } = await run(['start', '--mqtt-port', 'x'], tempDir(t));
    assert.equal(code, 2);
    assert.match(stderr, /invalid configuration: listeners\.mqtt\.port \(from flag --mqtt-port\)/);
  });

  test('a boolean flag takes an optional true or false', async (t) => {
    const { code, stderr } = await run(
      ['start', '--storage-telemetry-worker', 'maybe'],
      tempDir(t),
    );
    assert.equal(code, 2);
    assert.match(
      stderr,
      /storage\.telemetryWorker \(from flag --storage-telemetry-worker\): expected true or false/,
    );
  });

  test('an invalid config file exits 2 naming the key', async (t) => {
    const cwd = tempDir(t);
    writeFileSync(join(cwd, 'tandem.config.json'), '{"logLevel":"chatty"}');
    const { code, stderr } = await run(['start'], cwd);
    assert.equal(code, 2);
    assert.match(
      stderr,
      /invalid configuration: logLevel \(from config file .*tandem\.config\.json\)/,
    );
  });

  test('an invalid environment variable exits 2 naming it', async (t) => {
    const { code, stderr } = await run(['start'], tempDir(t), { TANDEM_HTTP_PORT: '99999' });
    assert.equal(code, 2);
    assert.match(stderr, /listeners\.http\.port \(from environment TANDEM_HTTP_PORT\)/);
  });

  test('an unknown option or command exits 2', async (t) => {
    assert.equal((await run(['start', '--bogus'], tempDir(t))).code, 2);
    assert.equal((await run(['frobnicate'], tempDir(t))).code, 2);
  });

  test('a port already in use exits 1 naming the port', async (t) => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    t.after(() => blocker.close());
    const port = (blocker.address() as { port: number }).port;
    const cwd = tempDir(t);
    const { code, stdout } = await run(
      ['start', ...ALL_PORTS_ZERO, `--mqtt-port=${port}`, `--data-dir=${join(cwd, 'data')}`],
      cwd,
    );
    assert.equal(code, 1);
    assert.match(stdout, new RegExp(`port ${port} is already in use`));
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`${signal} stops the server gracefully with exit code 0`, async (t) => {
      const cwd = tempDir(t);
      const child = tandem(['start', ...ALL_PORTS_ZERO, '--data-dir=data'], cwd);
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      const line = await listening(child);
      for (const name of [
        'http',
        'mqtt',
        'mqtts',
        'ws',
        'coap',
        'coaps',
        'bootstrap',
        'bootstrapDtls',
      ]) {
        assert.match(line[name] ?? '', /^127\.0\.0\.1:\d+$/, `${name} in the listening line`);
      }
      const health = await fetch(`http://${line.http}/api/health`);
      assert.equal(health.status, 200);
      child.kill(signal);
      assert.equal(await exited, 0);
      assert.ok(existsSync(join(cwd, 'data', 'tandem.db')), 'the store lives in --data-dir');
    });
  }

  test('on SIGTERM a connected MQTT 5 client gets DISCONNECT 0x8B Server shutting down', async (t) => {
    const cwd = tempDir(t);
    const child = tandem(['start', ...ALL_PORTS_ZERO, '--data-dir=data'], cwd);
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const line = await listening(child);
    const client = await mqtt.connectAsync(`mqtt://${line.mqtt}`, {
      protocolVersion: 5,
      reconnectPeriod: 0,
    });
    const disconnect = new Promise<number | undefined>((resolve) =>
      client.on('disconnect', (packet) => resolve(packet.reasonCode)),
    );
    child.kill('SIGTERM');
    assert.equal(await disconnect, 0x8b); // MQTT 5.0 §3.14.2.1
    assert.equal(await exited, 0);
    await client.endAsync(true);
  });
});
