import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { HealthReport } from '../../src/api/routes/health.js';
import { Tandem } from '../../src/server/tandem.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { captureLogs } from '../helpers/log-capture.js';
import { startTandem, testConfig } from '../helpers/tandem.js';
import { tempDir } from '../helpers/tmp.js';

describe('Tandem server', () => {
  test('starts every listener on an ephemeral port and logs one listening line', async (t) => {
    const { logger, lines } = captureLogs();
    const tandem = await startTandem(t, {}, { logger });
    const http = tandem.address('http');
    assert.ok(http && http.port > 0, 'port 0 resolved to a real port');
    const listening = lines.filter((l) => l.msg === 'listening');
    assert.equal(listening.length, 1);
    assert.deepEqual(
      Object.fromEntries(Object.entries(listening[0]!).filter(([k]) => k in tandem.addresses())),
      tandem.addresses(),
    );
    assert.equal(listening[0]!.http, `127.0.0.1:${http.port}`);

    const res = await fetch(`http://127.0.0.1:${http.port}/api/health`);
    assert.equal(res.status, 200);
    const health = (await res.json()) as HealthReport;
    assert.equal(health.status, 'ok');
    assert.deepEqual(health.listeners.http, { status: 'listening', address: listening[0]!.http });
    assert.equal(health.storage.backend, 'sqlite');
  });

  test('a listener whose port is off is not started and reports off', async (t) => {
    const tandem = await startTandem(t, { listeners: { mqtts: { port: 'off' } } });
    assert.equal(tandem.address('mqtts'), undefined);
    assert.equal(tandem.addresses().mqtts, undefined);
    assert.deepEqual(tandem.health().listeners.mqtts, { status: 'off' });
  });

  test('GET /metrics exposes Prometheus text with Tandem and process metrics', async (t) => {
    const tandem = await startTandem(t);
    const res = await fetch(`http://127.0.0.1:${tandem.address('http')!.port}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    assert.match(text, /^tandem_listener_up\{listener="http"\} 1$/m);
    assert.match(text, /^# TYPE process_cpu_user_seconds_total counter$/m);
  });

  test('a port already in use fails start with an error naming the port', async (t) => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    t.after(() => blocker.close());
    const port = (blocker.address() as { port: number }).port;
    const tandem = new Tandem({ config: testConfig(t, { listeners: { http: { port } } }) });
    await assert.rejects(tandem.start(), (err: Error) => {
      assert.match(
        err.message,
        new RegExp(
          `http listener cannot bind 127\\.0\\.0\\.1:${port}: port ${port} is already in use`,
        ),
      );
      return true;
    });
    await tandem.stop();
  });

  test('bound to loopback only, anonymous devices are allowed with a warning', async (t) => {
    const { logger, lines } = captureLogs();
    const tandem = await startTandem(t, {}, { logger });
    assert.equal(tandem.anonymousAllowed, true);
    assert.ok(lines.some((l) => l.level === 40 && /loopback/.test(String(l.msg))));
  });

  test('bound beyond loopback, devices must authenticate and no open access is warned', async (t) => {
    const { logger, lines } = captureLogs();
    const tandem = await startTandem(t, { host: '0.0.0.0' }, { logger });
    assert.equal(tandem.anonymousAllowed, false);
    const warnings = lines.filter((l) => l.level === 40).map((l) => String(l.msg));
    assert.deepEqual(
      warnings.filter((m) => /credentials|anonymous/i.test(m)),
      [],
    );
  });

  test('allowAnonymous opens a non-loopback server, with a warning', async (t) => {
    const { logger, lines } = captureLogs();
    const tandem = await startTandem(t, { host: '0.0.0.0', allowAnonymous: true }, { logger });
    assert.equal(tandem.anonymousAllowed, true);
    assert.ok(lines.some((l) => l.level === 40 && /allowAnonymous/.test(String(l.msg))));
  });

  test('stop flushes buffered storage writes to disk', async (t) => {
    const dataDir = tempDir(t);
    const tandem = new Tandem({
      config: testConfig(t, { dataDir, storage: { flushIntervalMs: 60_000 } }),
    });
    await tandem.start();
    tandem.store.telemetry.append([{ deviceId: 'd', path: '/3303/0/5700', ts: 1, value: 21.5 }]);
    assert.equal(tandem.store.telemetry.pending, 1);
    await tandem.stop();
    const store = new SqliteStore({ dataDir });
    t.after(() => store.close());
    assert.deepEqual(await store.telemetry.query({ deviceId: 'd' }), [
      { deviceId: 'd', path: '/3303/0/5700', ts: 1, value: 21.5 },
    ]);
  });

  test('a failed telemetry write is logged and counted; the server goes on', async (t) => {
    const { logger, lines } = captureLogs();
    const tandem = await startTandem(t, {}, { logger });
    assert.ok(tandem.store instanceof SqliteStore && tandem.store.telemetry.worker);
    tandem.store.db.exec(`CREATE TRIGGER full BEFORE INSERT ON telemetry
      BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`);
    tandem.store.telemetry.append([{ deviceId: 'd', path: '/3303/0/5700', ts: 1, value: 21.5 }]);
    await assert.rejects(tandem.store.flush(), /disk is full/);
    assert.ok(
      lines.some((l) => l.level === 50 && /background write/.test(String(l.msg))),
      'logged as an error',
    );
    const metrics = await (
      await fetch(`http://127.0.0.1:${tandem.address('http')!.port}/metrics`)
    ).text();
    assert.match(metrics, /^tandem_telemetry_write_failures_total\{kind="batch"\} 1$/m);
    assert.match(metrics, /^tandem_store_pending_writes 1$/m);
    assert.equal(tandem.health().status, 'ok');
  });

  test('start and stop leave no open handle: the process exits by itself', async (t) => {
    const dataDir = tempDir(t);
    const script = `
      import { configSchema } from './src/config/schema.ts';
      import { Tandem } from './src/server/tandem.ts';
      const ports = Object.fromEntries(['http','mqtt','mqtts','ws','coap','coaps','bootstrap','bootstrapDtls'].map((n) => [n, { port: 0 }]));
      const tandem = new Tandem({ config: configSchema.parse({ dataDir: ${JSON.stringify(dataDir)}, listeners: ports }) });
      await tandem.start();
      await fetch('http://127.0.0.1:' + tandem.address('http').port + '/api/health');
      await tandem.stop();
      console.log('stopped');
    `;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        cwd: join(import.meta.dirname, '../..'),
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    const code = await new Promise((resolve) => child.on('exit', resolve));
    assert.equal(code, 0);
    assert.equal(out.trim(), 'stopped');
  });

  test('cannot be started twice', async (t) => {
    const tandem = await startTandem(t);
    await assert.rejects(tandem.start(), /cannot start a Tandem that is started/);
  });
});
