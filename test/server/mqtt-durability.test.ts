import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import mqttPacket, {
  type IConnackPacket,
  type IPubcompPacket,
  type IPublishPacket,
  type IPubrecPacket,
  type IPubrelPacket,
  type Packet,
} from 'mqtt-packet';
import type { Tandem } from '../../src/server/tandem.js';
import { ManualClock } from '../../src/util/clock.js';
import { killedAtEnd } from '../helpers/children.js';
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
  // Servers are stopped and killed under these clients: a reset is expected, the assertions
  // on what arrived decide.
  client.on('error', () => undefined);
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

/** An MQTT 5 client that sends what the test says, to stop a flow half-way (no automatic acks). */
class RawClient {
  readonly socket: net.Socket;
  readonly #packets: Packet[] = [];
  #closed = false;
  #wake: (() => void) | undefined;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    const parser = mqttPacket.parser({ protocolVersion: 5 });
    parser.on('packet', (p: Packet) => {
      this.#packets.push(p);
      this.#wake?.();
    });
    socket.on('data', (d) => parser.parse(d));
    socket.on('close', () => {
      this.#closed = true;
      this.#wake?.();
    });
    socket.on('error', () => undefined);
  }

  /** Connects with Clean Start 0 and a one-hour session; resolves with the CONNACK. */
  static async open(url: string, clientId: string): Promise<{ raw: RawClient; connack: Packet }> {
    const { hostname, port } = new URL(url);
    const socket = net.connect(Number(port), hostname);
    await once(socket, 'connect');
    const raw = new RawClient(socket);
    raw.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 5,
      clientId,
      clean: false,
      keepalive: 0,
      properties: { sessionExpiryInterval: 3600 },
    });
    return { raw, connack: await raw.next('connack') };
  }

  send(packet: Packet): void {
    this.socket.write(mqttPacket.generate(packet, { protocolVersion: 5 }));
  }

  /** The next packet of `cmd`; packets of other kinds stay for later calls. */
  async next(cmd: Packet['cmd']): Promise<Packet> {
    for (;;) {
      const i = this.#packets.findIndex((p) => p.cmd === cmd);
      if (i >= 0) return this.#packets.splice(i, 1)[0]!;
      if (this.#closed) throw new Error(`closed before ${cmd}`);
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.socket.destroy();
    await once(this.socket, 'close');
  }
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

describe('MQTT in-flight state across a restart', () => {
  test('unacknowledged QoS 1 is sent again with DUP and its identifier, QoS 2 past PUBREC resumes with PUBREL [MQTT-4.4.0-1]', async (t) => {
    const dataDir = tempDir(t);
    let tandem = await startTandem(t, { dataDir });
    const { raw } = await RawClient.open(mqttUrl(tandem), 'raw-sub');
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'inflight/#', qos: 2 }] });
    await raw.next('suback');
    const pub = await mqtt.connectAsync(mqttUrl(tandem), {
      protocolVersion: 5,
      reconnectPeriod: 0,
    });
    await pub.publishAsync('inflight/1', 'q1', { qos: 1 });
    await pub.publishAsync('inflight/2', 'q2', { qos: 2 });
    await pub.endAsync();
    const sent = [await raw.next('publish'), await raw.next('publish')] as IPublishPacket[];
    const q1 = sent.find((p) => p.topic === 'inflight/1')!;
    const q2 = sent.find((p) => p.topic === 'inflight/2')!;
    assert.equal(q1.dup, false);
    // q1 is never acknowledged; q2 gets its PUBREC, so the server owes a PUBREL.
    raw.send({ cmd: 'pubrec', messageId: q2.messageId! });
    await raw.next('pubrel');
    await tandem.stop();
    await raw.close();

    tandem = await startTandem(t, { dataDir });
    const again = await RawClient.open(mqttUrl(tandem), 'raw-sub');
    t.after(() => again.raw.close());
    assert.equal((again.connack as IConnackPacket).sessionPresent, true);
    const resent = (await again.raw.next('publish')) as IPublishPacket;
    assert.deepEqual(
      [resent.topic, resent.payload.toString(), resent.qos, resent.dup, resent.messageId],
      ['inflight/1', 'q1', 1, true, q1.messageId],
    );
    const pubrel = (await again.raw.next('pubrel')) as IPubrelPacket;
    assert.equal(pubrel.messageId, q2.messageId, 'PUBREL, not the PUBLISH again');
    again.raw.send({ cmd: 'puback', messageId: q1.messageId! });
    again.raw.send({ cmd: 'pubcomp', messageId: q2.messageId! });
  });

  test('a will whose delay had not passed is published after the restart [MQTT-3.1.3-9]', async (t) => {
    const dataDir = tempDir(t);
    let tandem = await startTandem(t, { dataDir });
    const watcher = await connectCollecting(mqttUrl(tandem), persistent('will-watcher'));
    await watcher.client.subscribeAsync('wills/#', { qos: 1 });
    await watcher.client.endAsync();
    // Still connected when the server stops: a server-side close, so the will is due after
    // its delay (MQTT 5.0 §3.1.2.5); the delay outlasts the stop.
    const mortal = await mqtt.connectAsync(mqttUrl(tandem), {
      ...persistent('mortal'),
      will: {
        topic: 'wills/mortal',
        payload: Buffer.from('gone'),
        qos: 1,
        retain: false,
        properties: { willDelayInterval: 2 },
      },
    });
    mortal.on('error', () => undefined);
    await tandem.stop();
    await mortal.endAsync(true);

    tandem = await startTandem(t, { dataDir });
    const back = await connectCollecting(mqttUrl(tandem), persistent('will-watcher'));
    t.after(() => back.client.endAsync(true));
    await untilCount(back.client, back.received, 1);
    assert.deepEqual(
      back.received.map((m) => [m.topic, m.payload]),
      [['wills/mortal', 'gone']],
    );
  });
});

describe('MQTT expiry counts while the server is down', () => {
  test('a session and a retained message that expired during the downtime are gone after the restart [MQTT-3.1.2-23, MQTT-3.3.2-5]', async (t) => {
    const dataDir = tempDir(t);
    const clock = new ManualClock(Date.now());
    let tandem = await startTandem(t, { dataDir }, { clock });
    const short = await connectCollecting(mqttUrl(tandem), {
      ...persistent('short-lived'),
      properties: { sessionExpiryInterval: 60 },
    });
    await short.client.subscribeAsync('exp/#', { qos: 1 });
    await short.client.endAsync();
    const long = await connectCollecting(mqttUrl(tandem), persistent('long-lived'));
    await long.client.subscribeAsync('exp/#', { qos: 1 });
    await long.client.endAsync();
    const pub = await mqtt.connectAsync(mqttUrl(tandem), {
      protocolVersion: 5,
      reconnectPeriod: 0,
    });
    await pub.publishAsync('exp/retained-short', 'r1', {
      qos: 1,
      retain: true,
      properties: { messageExpiryInterval: 60 },
    });
    await pub.publishAsync('exp/retained-long', 'r2', {
      qos: 1,
      retain: true,
      properties: { messageExpiryInterval: 7200 },
    });
    await pub.endAsync();
    await tandem.stop();

    clock.advance(61_000);
    tandem = await startTandem(t, { dataDir }, { clock });
    const gone = await connectCollecting(mqttUrl(tandem), {
      ...persistent('short-lived'),
      properties: { sessionExpiryInterval: 60 },
    });
    t.after(() => gone.client.endAsync(true));
    assert.equal(gone.sessionPresent, false, 'expired while the server was down');

    const kept = await connectCollecting(mqttUrl(tandem), persistent('long-lived'));
    t.after(() => kept.client.endAsync(true));
    assert.equal(kept.sessionPresent, true);
    // Its queue held both; the one whose Message Expiry passed is not delivered.
    await untilCount(kept.client, kept.received, 1);
    assert.deepEqual(
      kept.received.map((m) => m.payload),
      ['r2'],
    );

    const fresh = await connectCollecting(mqttUrl(tandem), {
      protocolVersion: 5,
      reconnectPeriod: 0,
    });
    t.after(() => fresh.client.endAsync(true));
    await fresh.client.subscribeAsync('exp/#', { qos: 1 });
    await untilCount(fresh.client, fresh.received, 1);
    assert.deepEqual(
      fresh.received.map((m) => [m.topic, m.retain]),
      [['exp/retained-long', true]],
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
  const child = killedAtEnd(
    spawn(
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
    ),
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
  test('every QoS 1 message acknowledged before SIGKILL reaches every persistent subscriber after the restart [MQTT-4.3.2-2]', async (t) => {
    const dataDir = tempDir(t);
    const N = 200;
    const first = await startServerProcess(t, dataDir);

    // Three persistent sessions: one PUBLISH is three deliveries in one commit.
    const subscribers: Array<[IClientOptions, string, 1 | 2]> = [
      [persistent('crash-sub-v5-qos1'), 'crash/#', 1],
      [persistent('crash-sub-v5-qos2'), 'crash/+', 2],
      [{ clientId: 'crash-sub-v4', protocolVersion: 4, clean: false, reconnectPeriod: 0 }, '#', 1],
    ];
    for (const [options, filter, qos] of subscribers) {
      const sub = await connectCollecting(first.mqttUrl, options);
      await sub.client.subscribeAsync(filter, { qos });
      await sub.client.endAsync();
    }

    const pub = await mqtt.connectAsync(first.mqttUrl, { protocolVersion: 5, reconnectPeriod: 0 });
    // The server dies under it: ECONNRESET is expected, not a test failure.
    pub.on('error', () => undefined);
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

    assert.ok(ackedBeforeKill.length >= N);

    const second = await startServerProcess(t, dataDir);
    for (const [options] of subscribers) {
      const back = await connectCollecting(second.mqttUrl, options);
      t.after(() => back.client.endAsync(true));
      assert.equal(back.sessionPresent, true, options.clientId);
      const wanted = new Set(ackedBeforeKill);
      await new Promise<void>((resolve) => {
        const check = () => {
          for (const m of back.received) wanted.delete(m.payload);
          if (wanted.size === 0) resolve();
        };
        back.client.on('message', () => setImmediate(check));
        check();
      });
      assert.deepEqual(
        back.received.map((m) => m.payload).slice(0, N),
        Array.from({ length: N }, (_, i) => `m-${i}`),
        `${options.clientId}: in publish order [MQTT-4.6.0-6]`,
      );
      await back.client.endAsync();
    }
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0);
  });

  test('an inbound QoS 2 flow past PUBREC completes after kill -9 and delivers once [MQTT-4.3.3-9]', async (t) => {
    const dataDir = tempDir(t);
    const first = await startServerProcess(t, dataDir);
    const sub = await connectCollecting(first.mqttUrl, persistent('once-sub'));
    await sub.client.subscribeAsync('exactly/once', { qos: 2 });
    await sub.client.endAsync();
    const { raw } = await RawClient.open(first.mqttUrl, 'once-pub');
    const publish = (dup: boolean): Packet => ({
      cmd: 'publish',
      topic: 'exactly/once',
      payload: Buffer.from('once'),
      qos: 2,
      messageId: 9,
      dup,
      retain: false,
    });
    raw.send(publish(false));
    await raw.next('pubrec');
    first.child.kill('SIGKILL');
    await first.exited;
    await raw.close();

    const second = await startServerProcess(t, dataDir);
    const again = await RawClient.open(second.mqttUrl, 'once-pub');
    t.after(() => again.raw.close());
    assert.equal((again.connack as IConnackPacket).sessionPresent, true);
    // A client that missed the PUBREC sends the PUBLISH again: acknowledged, not redelivered.
    again.raw.send(publish(true));
    const rec = (await again.raw.next('pubrec')) as IPubrecPacket;
    assert.equal(rec.reasonCode ?? 0, 0);
    again.raw.send({ cmd: 'pubrel', messageId: 9 });
    const comp = (await again.raw.next('pubcomp')) as IPubcompPacket;
    assert.equal(comp.reasonCode ?? 0, 0, 'the identifier was known (not 0x92)');
    // A sentinel at the same QoS after it: the subscriber gets its queue in order, so anything
    // delivered twice would show before the sentinel [MQTT-4.6.0-6].
    again.raw.send({
      cmd: 'publish',
      topic: 'exactly/once',
      payload: Buffer.from('sentinel'),
      qos: 2,
      messageId: 10,
      dup: false,
      retain: false,
    });
    await again.raw.next('pubrec');
    again.raw.send({ cmd: 'pubrel', messageId: 10 });
    await again.raw.next('pubcomp');

    const back = await connectCollecting(second.mqttUrl, persistent('once-sub'));
    t.after(() => back.client.endAsync(true));
    await new Promise<void>((resolve) => {
      const check = () => {
        if (back.received.some((m) => m.payload === 'sentinel')) resolve();
      };
      back.client.on('message', check);
      check();
    });
    assert.deepEqual(
      back.received.map((m) => m.payload),
      ['once', 'sentinel'],
      'once, not twice',
    );
  });

  test('the will of a client connected at kill -9 is published after the restart [MQTT-3.1.2-8]', async (t) => {
    const dataDir = tempDir(t);
    const first = await startServerProcess(t, dataDir);
    // 'a-watcher' sorts before 'mortal' and 'z-watcher' after it: the will must reach both,
    // whatever order the sessions are restored in.
    for (const id of ['a-watcher', 'z-watcher']) {
      const w = await connectCollecting(first.mqttUrl, persistent(id));
      await w.client.subscribeAsync('wills/#', { qos: 1 });
      await w.client.endAsync();
    }
    const mortal = await mqtt.connectAsync(first.mqttUrl, {
      ...persistent('mortal'),
      will: { topic: 'wills/mortal', payload: Buffer.from('gone'), qos: 1, retain: false },
    });
    mortal.on('error', () => undefined);
    first.child.kill('SIGKILL');
    await first.exited;
    await mortal.endAsync(true);

    const second = await startServerProcess(t, dataDir);
    for (const id of ['a-watcher', 'z-watcher']) {
      const back = await connectCollecting(second.mqttUrl, persistent(id));
      t.after(() => back.client.endAsync(true));
      await untilCount(back.client, back.received, 1);
      assert.deepEqual(
        back.received.map((m) => [m.topic, m.payload]),
        [['wills/mortal', 'gone']],
        id,
      );
    }
  });
});
