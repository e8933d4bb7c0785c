import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { SETTINGS } from '../../src/config/settings.js';
import { tempDir } from '../helpers/tmp.js';

function expectConfigError(fn: () => unknown, key: string, reason: RegExp, source?: RegExp) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.key, key);
    assert.match(err.reason, reason);
    if (source) assert.match(err.source ?? '', source);
    assert.match(err.message, new RegExp(key.replaceAll('.', '\\.')));
    return true;
  });
}

describe('configuration', () => {
  test('has the documented defaults', (t) => {
    const cwd = tempDir(t);
    const { config, file } = loadConfig({ cwd, env: {} });
    assert.equal(file, undefined);
    assert.equal(config.dataDir, join(cwd, 'data'));
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.logLevel, 'info');
    assert.equal(config.allowAnonymous, false);
    assert.equal(config.shutdownTimeoutMs, 10_000);
    const ports = Object.fromEntries(Object.entries(config.listeners).map(([k, v]) => [k, v.port]));
    assert.deepEqual(ports, {
      http: 8080,
      mqtt: 1883,
      mqtts: 8883,
      ws: 8083,
      coap: 5683,
      coaps: 5684,
      bootstrap: 5783,
      bootstrapDtls: 5784,
    });
    assert.equal(config.listeners.ws.path, '/mqtt');
  });

  test('precedence is defaults < file < environment < flags', (t) => {
    const cwd = tempDir(t);
    writeFileSync(
      join(cwd, 'tandem.config.json'),
      JSON.stringify({
        logLevel: 'warn',
        host: '127.0.0.2',
        listeners: { http: { port: 9001 }, mqtt: { port: 9002 }, coap: { port: 9003 } },
      }),
    );
    const { config, file } = loadConfig({
      cwd,
      env: { TANDEM_MQTT_PORT: '9102', TANDEM_COAP_PORT: '9103' },
      flags: { 'listeners.coap.port': '9203' },
    });
    assert.equal(file, join(cwd, 'tandem.config.json'));
    assert.equal(config.logLevel, 'warn'); // file over default
    assert.equal(config.host, '127.0.0.2');
    assert.equal(config.listeners.http.port, 9001); // file only
    assert.equal(config.listeners.mqtt.port, 9102); // environment over file
    assert.equal(config.listeners.coap.port, 9203); // flag over environment
    assert.equal(config.listeners.ws.port, 8083); // default untouched
  });

  test('reads YAML from --config and resolves its paths relative to the file', (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'custom.yaml');
    writeFileSync(
      path,
      'dataDir: ./store\nallowAnonymous: true\nlisteners:\n  mqtts:\n    port: off\n    cert: certs/c.pem\n',
    );
    const { config } = loadConfig({ cwd: tempDir(t), env: {}, configPath: path });
    assert.equal(config.dataDir, join(dir, 'store'));
    assert.equal(config.allowAnonymous, true);
    assert.equal(config.listeners.mqtts.port, 'off');
    assert.equal(config.listeners.mqtts.cert, join(dir, 'certs/c.pem'));
  });

  test('DTLS credentials and the LwM2M trust store are paths relative to the config file', (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'dtls.yaml');
    writeFileSync(
      path,
      'listeners:\n  coaps:\n    certificate: pki/server.pem\n    key: pki/server.key\nlwm2m:\n  trustStore: pki/ca.pem\n',
    );
    const { config } = loadConfig({ cwd: tempDir(t), env: {}, configPath: path });
    assert.equal(config.listeners.coaps.certificate, join(dir, 'pki/server.pem'));
    assert.equal(config.listeners.coaps.key, join(dir, 'pki/server.key'));
    assert.equal(config.listeners.bootstrapDtls.key, undefined);
    assert.equal(config.lwm2m.trustStore, join(dir, 'pki/ca.pem'));
  });

  test('TANDEM_CONFIG names the file when --config is absent', (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'x.json');
    writeFileSync(path, '{"logLevel":"debug"}');
    const { config } = loadConfig({ cwd: dir, env: { TANDEM_CONFIG: path } });
    assert.equal(config.logLevel, 'debug');
  });

  test('every setting has a flag and an environment variable that are read', (t) => {
    const cwd = tempDir(t);
    for (const s of SETTINGS) {
      const raw =
        s.kind === 'port'
          ? '1234'
          : s.kind === 'boolean'
            ? 'true'
            : s.kind === 'integer'
              ? '5000'
              : s.kind === 'logLevel'
                ? 'debug'
                : s.kind === 'path'
                  ? '/abs/x'
                  : s.kind === 'duration'
                    ? '90s'
                    : s.kind === 'storageBackend'
                      ? 'sqlite'
                      : s.kind === 'qos'
                        ? '2'
                        : s.kind === 'queuePolicy'
                          ? 'backpressure'
                          : '/y';
      const expected =
        s.kind === 'port' || s.kind === 'integer' || s.kind === 'qos'
          ? Number(raw)
          : s.kind === 'boolean'
            ? true
            : s.kind === 'duration'
              ? 90_000
              : raw;
      const read = (c: unknown) =>
        s.key.split('.').reduce((o, k) => (o as Record<string, unknown>)[k], c);
      assert.deepEqual(read(loadConfig({ cwd, env: { [s.env]: raw } }).config), expected, s.env);
      assert.deepEqual(
        read(loadConfig({ cwd, env: {}, flags: { [s.key]: raw } }).config),
        expected,
        s.flag,
      );
    }
  });

  test('a port set to off is kept as off', (t) => {
    const { config } = loadConfig({ cwd: tempDir(t), env: { TANDEM_COAPS_PORT: 'off' } });
    assert.equal(config.listeners.coaps.port, 'off');
  });

  test('unknown TANDEM_* variables are reported as warnings, known extra ones are not', (t) => {
    const { warnings } = loadConfig({
      cwd: tempDir(t),
      env: { TANDEM_HTTP_PROT: '1', TANDEM_ADMIN_TOKEN: 'x', OTHER: 'y' },
    });
    assert.deepEqual(warnings, ['unknown environment variable TANDEM_HTTP_PROT ignored']);
  });
});

describe('configuration errors name the key, the source and the reason', () => {
  test('a port that is not a number, from the environment', (t) => {
    expectConfigError(
      () => loadConfig({ cwd: tempDir(t), env: { TANDEM_HTTP_PORT: 'abc' } }),
      'listeners.http.port',
      /port number 0-65535 or "off", got "abc"/,
      /environment TANDEM_HTTP_PORT/,
    );
  });

  test('a port out of range, from a flag', (t) => {
    expectConfigError(
      () => loadConfig({ cwd: tempDir(t), env: {}, flags: { 'listeners.mqtt.port': '70000' } }),
      'listeners.mqtt.port',
      /port number/,
      /flag --mqtt-port/,
    );
  });

  test('a port out of range, from the file', (t) => {
    const cwd = tempDir(t);
    writeFileSync(join(cwd, 'tandem.config.json'), '{"listeners":{"coap":{"port":-1}}}');
    expectConfigError(
      () => loadConfig({ cwd, env: {} }),
      'listeners.coap.port',
      /port number/,
      /config file/,
    );
  });

  test('an unknown key in the file', (t) => {
    const cwd = tempDir(t);
    writeFileSync(join(cwd, 'tandem.config.json'), '{"listeners":{"htpp":{"port":1}}}');
    expectConfigError(() => loadConfig({ cwd, env: {} }), 'listeners.htpp', /unknown key/);
  });

  test('a wrong type in the file', (t) => {
    const cwd = tempDir(t);
    writeFileSync(join(cwd, 'tandem.config.yaml'), 'allowAnonymous: "maybe"\n');
    expectConfigError(() => loadConfig({ cwd, env: {} }), 'allowAnonymous', /expected boolean/);
  });

  test('an invalid log level', (t) => {
    expectConfigError(
      () => loadConfig({ cwd: tempDir(t), env: { TANDEM_LOG_LEVEL: 'loud' } }),
      'logLevel',
      /expected one of fatal, error/,
    );
  });

  test('an invalid boolean', (t) => {
    expectConfigError(
      () => loadConfig({ cwd: tempDir(t), env: { TANDEM_ALLOW_ANONYMOUS: 'perhaps' } }),
      'allowAnonymous',
      /expected true or false/,
    );
  });

  test('a config file that does not exist', (t) => {
    expectConfigError(
      () => loadConfig({ cwd: tempDir(t), env: {}, configPath: 'nope.json' }),
      'config',
      /does not exist/,
    );
  });

  test('a config file that does not parse', (t) => {
    const cwd = tempDir(t);
    writeFileSync(join(cwd, 'tandem.config.json'), '{"host": ');
    expectConfigError(() => loadConfig({ cwd, env: {} }), 'config', /is not valid JSON/);
  });

  test('a config file that is not an object', (t) => {
    const cwd = tempDir(t);
    writeFileSync(join(cwd, 'tandem.config.yml'), '- a\n- b\n');
    expectConfigError(() => loadConfig({ cwd, env: {} }), 'config', /must hold an object/);
  });

  test('telemetry retention and rollups are durations, with defaults', (t) => {
    const cwd = tempDir(t);
    const { config } = loadConfig({ cwd, env: {} });
    assert.deepEqual(config.telemetry, {
      retention: 30 * 86_400_000,
      rollups: [
        { interval: 60_000, retention: 90 * 86_400_000 },
        { interval: 3_600_000, retention: 730 * 86_400_000 },
      ],
      sweepInterval: 60_000,
    });
    assert.deepEqual(config.storage.backend, 'sqlite');
    writeFileSync(
      join(cwd, 'tandem.config.yaml'),
      'telemetry:\n  retention: 7d\n  rollups:\n    - { interval: 5m, retention: 1y }\n',
    );
    const fromFile = loadConfig({ cwd, env: {} }).config.telemetry;
    assert.equal(fromFile.retention, 7 * 86_400_000);
    assert.deepEqual(fromFile.rollups, [{ interval: 300_000, retention: 365 * 86_400_000 }]);
  });

  test('a bridge QoS that MQTT does not have, from the environment and from the file', (t) => {
    expectConfigError(
      () => loadConfig({ cwd: tempDir(t), env: { TANDEM_BRIDGE_QOS: '3' } }),
      'bridge.qos',
      /expected a QoS of 0, 1 or 2/,
      /TANDEM_BRIDGE_QOS/,
    );
    const cwd = tempDir(t);
    writeFileSync(join(cwd, 'tandem.config.json'), '{"bridge":{"qos":3}}');
    expectConfigError(() => loadConfig({ cwd, env: {} }), 'bridge.qos', /./, /config file/);
  });

  test('a retention that is no duration, from the environment', (t) => {
    expectConfigError(
      () => loadConfig({ cwd: tempDir(t), env: { TANDEM_TELEMETRY_RETENTION: '30 days' } }),
      'telemetry.retention',
      /expected a duration/,
      /TANDEM_TELEMETRY_RETENTION/,
    );
  });

  test('a rollup interval given twice, or shorter than a second, in the file', (t) => {
    const cwd = tempDir(t);
    const rollup = (interval: string) => ({ interval, retention: '1d' });
    writeFileSync(
      join(cwd, 'tandem.config.json'),
      JSON.stringify({ telemetry: { rollups: [rollup('1m'), rollup('1m')] } }),
    );
    expectConfigError(() => loadConfig({ cwd, env: {} }), 'telemetry.rollups', /only once/);
    writeFileSync(
      join(cwd, 'tandem.config.json'),
      JSON.stringify({ telemetry: { rollups: [rollup('500ms')] } }),
    );
    expectConfigError(
      () => loadConfig({ cwd, env: {} }),
      'telemetry.rollups.0.interval',
      /at least 1s/,
    );
  });

  test('the postgres backend needs its URL, and an unknown backend is refused', (t) => {
    expectConfigError(
      () => loadConfig({ cwd: tempDir(t), env: { TANDEM_STORAGE_BACKEND: 'postgres' } }),
      'storage.postgresUrl',
      /required when storage.backend is postgres/,
    );
    expectConfigError(
      () => loadConfig({ cwd: tempDir(t), env: {}, flags: { 'storage.backend': 'mysql' } }),
      'storage.backend',
      /sqlite, postgres/,
      /--storage-backend/,
    );
    const { config } = loadConfig({
      cwd: tempDir(t),
      env: {
        TANDEM_STORAGE_BACKEND: 'postgres',
        TANDEM_STORAGE_POSTGRES_URL: 'postgres://tandem@db.example/tandem',
      },
    });
    assert.equal(config.storage.postgresUrl, 'postgres://tandem@db.example/tandem');
  });

  test('a shutdown timeout below its minimum', (t) => {
    expectConfigError(
      () => loadConfig({ cwd: tempDir(t), env: { TANDEM_SHUTDOWN_TIMEOUT: '5' } }),
      'shutdownTimeoutMs',
      /100/,
    );
  });
});
