import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Tandem } from '../../src/server/tandem.js';
import { startTandem } from '../helpers/tandem.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * "A message the server acknowledged is not lost by a crash" (DESIGN.md): QoS 1/2 messages
 * acknowledged to their publisher (PUBACK, PUBREC/PUBCOMP) reach a persistent subscriber after
 * a restart and after a `kill -9` [MQTT-4.1.0-1, MQTT-4.3.2-2, MQTT-4.3.3-2].
 */

const ROOT = join(import.meta.dirname, '../..');
const TSX = import.meta.resolve('tsx');

/** Session state kept for an hour after the connection ends (MQTT 5.0 §3.1.2.11.2). */
function persistent(clientId: string): IClientOptions {
  return {
    clientId,
    protocolVersion: 5,
    clean: false,
    properties: { sessionExpiryInterval: 3600 },
    reconnectPeriod: 0,
  };
}

interface Received {
  topic: string;
  payload: string;
  qos: number;
  retain: boolean;
  dup: boolean;
  subscriptionIds: number[];
}

/**
 * Connects with a 'message' listener in place before CONNACK, so that the messages the broker
 * sends right after it (the stored session's queue) are all seen.
 */
async function connectCollecting(
  url: string,
  options: IClientOptions,
): Promise<{ client: MqttClient; received: Received[]; sessionPresent: boolean }> {
  const client = mqtt.connect(url, options);
  const received: Received[] = [];
  client.on('message', (topic, payload, packet) => {
    const ids = packet.properties?.subscriptionIdentifier;
    received.push({
      topic,
      payload: payload.toString(),
      qos: packet.qos,
      retain: packet.retain,
      dup: packet.dup,
      subscriptionIds: ids === undefined ? [] : Array.isArray(ids) ? ids : [ids],
    });
  });
  const connack = await new Promise<{ sessionPresent: boolean }>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  return { client, received, sessionPresent: connack.sessionPresent };
}

/** Resolves once `received` holds `n` messages (the test runner's timeout ends a hang). */
function untilCount(client: MqttClient, received: unknown[], n: number): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (received.length >= n) {
        client.off('message', onMessage);
        resolve();
      }
    };
    const onMessage = () => setImmediate(check);
    client.on('message', onMessage);
    check();
  });
}

function mqttUrl(tandem: Tandem): string {
  return `mqtt://127.0.0.1:${tandem.address('mqtt')!.port}`;
}

describe('MQTT durability across a restart', () => {
  test('a persistent session gets every QoS 1 and 2 message acknowledged while it was away, and retained messages survive', async (t) => {
    const dataDir = tempDir(t);
    const N = 25;
    let tandem = await startTandem(t, { dataDir });

    const sub = await connectCollecting(mqttUrl(tandem), persistent('durable-sub'));
    assert.equal(sub.sessionPresent, false);
    await sub.client.subscribeAsync('d/q1', { qos: 1, properties: { subscriptionIdentifier: 11 } });
    await sub.client.subscribeAsync('d/q2', { qos: 2, properties: { subscriptionIdentifier: 22 } });
    await sub.client.endAsync();

    const pub = await mqtt.connectAsync(mqttUrl(tandem), {
      protocolVersion: 5,
      reconnectPeriod: 0,
    });
    for (let i = 0; i < N; i++) {
      // publishAsync settles on PUBACK (QoS 1) and on PUBCOMP (QoS 2).
      await pub.publishAsync('d/q1', `one-${i}`, { qos: 1 });
      await pub.publishAsync('d/q2', `two-${i}`, {
        qos: 2,
        properties: { correlationData: Buffer.from([0, 0xff, i]), userProperties: { n: `${i}` } },
      });
    }
    await pub.publishAsync('d/retained', 'kept', { qos: 1, retain: true });
    await pub.endAsync();
    await tandem.stop();

    tandem = await startTandem(t, { dataDir });
    const back = await connectCollecting(mqttUrl(tandem), persistent('durable-sub'));
    t.after(() => back.client.endAsync(true));
    assert.equal(back.sessionPresent, true, 'the session outlived the restart [MQTT-3.2.2-3]');
    await untilCount(back.client, back.received, 2 * N);
    const q1 = back.received.filter((m) => m.topic === 'd/q1');
    const q2 = back.received.filter((m) => m.topic === 'd/q2');
    assert.deepEqual(
      q1.map((m) => m.payload),
      Array.from({ length: N }, (_, i) => `one-${i}`),
      'every QoS 1 message, in order [MQTT-4.6.0-6]',
    );
    assert.deepEqual(
      q2.map((m) => m.payload),
      Array.from({ length: N }, (_, i) => `two-${i}`),
      'every QoS 2 message once, in order',
    );
    assert.ok(q1.every((m) => m.qos === 1 && m.subscriptionIds.join() === '11'));
    assert.ok(q2.every((m) => m.qos === 2 && m.subscriptionIds.join() === '22'));

    // The subscriptions themselves survived: a new message still reaches the session.
    const pub2 = await mqtt.connectAsync(mqttUrl(tandem), {
      protocolVersion: 5,
      reconnectPeriod: 0,
    });
    t.after(() => pub2.endAsync(true));
    await pub2.publishAsync('d/q2', 'after-restart', { qos: 2 });
    await untilCount(back.client, back.received, 2 * N + 1);
    assert.equal(back.received.at(-1)!.payload, 'after-restart');

    const late = await connectCollecting(mqttUrl(tandem), {
      protocolVersion: 5,
      reconnectPeriod: 0,
    });
    t.after(() => late.client.endAsync(true));
    await late.client.subscribeAsync('d/retained', { qos: 1 });
    await untilCount(late.client, late.received, 1);
    assert.deepEqual(
      { payload: late.received[0]!.payload, retain: late.received[0]!.retain },
      { payload: 'kept', retain: true },
      'the retained message survived the restart [MQTT-3.3.1-9]',
    );
  });

  test('an MQTT 3.1.1 persistent session (clean session 0) survives a restart too', async (t) => {
    const dataDir = tempDir(t);
    let tandem = await startTandem(t, { dataDir });
    const v4: IClientOptions = {
      clientId: 'legacy-sub',
      protocolVersion: 4,
      clean: false,
      reconnectPeriod: 0,
    };
    const sub = await connectCollecting(mqttUrl(tandem), v4);
    await sub.client.subscribeAsync('legacy/#', { qos: 2 });
    await sub.client.endAsync();
    const pub = await mqtt.connectAsync(mqttUrl(tandem), {
      protocolVersion: 4,
      reconnectPeriod: 0,
    });
    await pub.publishAsync('legacy/a', 'a', { qos: 1 });
    await pub.publishAsync('legacy/b', 'b', { qos: 2 });
    await pub.endAsync();
    await tandem.stop();

    tandem = await startTandem(t, { dataDir });
    const back = await connectCollecting(mqttUrl(tandem), v4);
    t.after(() => back.client.endAsync(true));
    assert.equal(back.sessionPresent, true);
    await untilCount(back.client, back.received, 2);
    assert.deepEqual(
      back.received.map((m) => [m.topic, m.payload, m.qos]),
      [
        ['legacy/a', 'a', 1],
        ['legacy/b', 'b', 2],
      ],
    );
  });

  test('a clean start after the restart discards the stored session [MQTT-3.1.2-4]', async (t) => {
    const dataDir = tempDir(t);
    let tandem = await startTandem(t, { dataDir });
    const sub = await connectCollecting(mqttUrl(tandem), persistent('fresh'));
    await sub.client.subscribeAsync('f/#', { qos: 1 });
    await sub.client.endAsync();
    const pub = await mqtt.connectAsync(mqttUrl(tandem), {
      protocolVersion: 5,
      reconnectPeriod: 0,
    });
    await pub.publishAsync('f/1', 'x', { qos: 1 });
    await pub.endAsync();
    await tandem.stop();

    tandem = await startTandem(t, { dataDir });
    const clean = await connectCollecting(mqttUrl(tandem), { ...persistent('fresh'), clean: true });
    assert.equal(clean.sessionPresent, false);
    await clean.client.endAsync();
    await tandem.stop();

    tandem = await startTandem(t, { dataDir });
    const again = await connectCollecting(mqttUrl(tandem), persistent('fresh'));
    t.after(() => again.client.endAsync(true));
    assert.equal(again.sessionPresent, true, 'the clean session was itself persistent');
    const pub2 = await mqtt.connectAsync(mqttUrl(tandem), {
      protocolVersion: 5,
      reconnectPeriod: 0,
    });
    t.after(() => pub2.endAsync(true));
    await pub2.publishAsync('f/2', 'y', { qos: 1 });
    // f/2 is not subscribed any more: only a message on a topic the new session subscribes to
    // arrives, and the old f/1 never does.
    await again.client.subscribeAsync('g', { qos: 1 });
    await pub2.publishAsync('g', 'z', { qos: 1 });
    await untilCount(again.client, again.received, 1);
    assert.deepEqual(
      again.received.map((m) => m.payload),
      ['z'],
    );
  });
});

/** The `tandem start` process on its own data dir, every listener on an ephemeral port. */
interface ServerProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  mqttUrl: string;
}

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

async function startServerProcess(t: TestContext, dataDir: string): Promise<ServerProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      TSX,
      join(ROOT, 'src/cli/main.ts'),
      'start',
      ...ALL_PORTS_ZERO,
      `--data-dir=${dataDir}`,
    ],
    { cwd: dataDir, env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  const line = await new Promise<Record<string, string>>((resolve, reject) => {
    let buffer = '';
    child.stdout!.on('data', (d) => {
      buffer += d;
      for (const l of buffer.split('\n')) {
        if (l.includes('"msg":"listening"')) resolve(JSON.parse(l));
      }
    });
    child.on('exit', (code) =>
      reject(new Error(`exited with ${code} before listening: ${stderr}`)),
    );
  });
  return { child, exited, mqttUrl: `mqtt://${line.mqtt}` };
}

describe('MQTT durability across kill -9', () => {
  test('every QoS 1 message acknowledged before SIGKILL reaches the persistent subscriber after the restart [MQTT-4.3.2-2]', async (t) => {
    const dataDir = tempDir(t);
    const N = 200;
    const first = await startServerProcess(t, dataDir);

    const sub = await connectCollecting(first.mqttUrl, persistent('crash-sub'));
    await sub.client.subscribeAsync('crash/#', { qos: 1 });
    await sub.client.endAsync();

    const pub = await mqtt.connectAsync(first.mqttUrl, { protocolVersion: 5, reconnectPeriod: 0 });
    const acked: string[] = [];
    for (let i = 0; i < N; i++) {
      await pub.publishAsync(`crash/${i % 7}`, `m-${i}`, { qos: 1 });
      acked.push(`m-${i}`);
    }
    // Publishing goes on while the process dies: whatever was acknowledged must survive.
    let stopped = false;
    const more = (async () => {
      for (let i = N; !stopped; i++) {
        try {
          await pub.publishAsync(`crash/${i % 7}`, `m-${i}`, { qos: 1 });
        } catch {
          return;
        }
        if (!stopped) acked.push(`m-${i}`);
      }
    })();
    first.child.kill('SIGKILL');
    assert.equal(await first.exited, null, 'killed, not exited');
    stopped = true;
    const ackedBeforeKill = [...acked];
    await pub.endAsync(true);
    void more;

    const second = await startServerProcess(t, dataDir);
    const back = await connectCollecting(second.mqttUrl, persistent('crash-sub'));
    t.after(() => back.client.endAsync(true));
    assert.equal(back.sessionPresent, true);
    const wanted = new Set(ackedBeforeKill);
    await new Promise<void>((resolve) => {
      const check = () => {
        for (const m of back.received) wanted.delete(m.payload);
        if (wanted.size === 0) resolve();
      };
      back.client.on('message', () => setImmediate(check));
      check();
    });
    assert.ok(ackedBeforeKill.length >= N);
    const payloads = back.received.map((m) => m.payload);
    assert.deepEqual(
      payloads.slice(0, N),
      Array.from({ length: N }, (_, i) => `m-${i}`),
      'in publish order [MQTT-4.6.0-6]',
    );
    await back.client.endAsync();
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0);
  });
});
