import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';
import { startBroker, type TestBroker, waitFor } from './helpers.js';

interface Run {
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** Runs a Debian mosquitto client; `-W` bounds every waiting one so nothing hangs. */
function run(cmd: string, args: string[]): Run {
  const child = spawn(`/usr/bin/${cmd}`, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return {
    done: new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr }))),
  };
}

const target = (tb: TestBroker) => ['-h', '127.0.0.1', '-p', String(tb.port)];

async function subscribed(tb: TestBroker, count: number): Promise<void> {
  await waitFor(() => tb.broker.stats.subscriptions >= count, 'mosquitto_sub subscription');
}

describe('interop with Debian mosquitto clients', () => {
  for (const [subV, pubV, qos] of [
    ['mqttv311', 'mqttv5', '1'],
    ['mqttv5', 'mqttv311', '2'],
    ['mqttv5', 'mqttv31', '1'],
    ['mqttv311', 'mqttv311', '0'],
  ] as const) {
    test(`mosquitto_sub ${subV} receives from mosquitto_pub ${pubV} at QoS ${qos} (MQTT 5.0 §3.3)`, async () => {
      const tb = await startBroker();
      try {
        const sub = run('mosquitto_sub', [
          ...target(tb),
          '-V',
          subV,
          '-q',
          qos,
          '-t',
          'interop/+',
          '-C',
          '1',
          '-W',
          '20',
          '-v',
        ]);
        await subscribed(tb, 1);
        const pub = await run('mosquitto_pub', [
          ...target(tb),
          '-V',
          pubV,
          '-q',
          qos,
          '-t',
          'interop/x',
          '-m',
          `hello ${pubV}`,
        ]).done;
        assert.equal(pub.code, 0, pub.stderr);
        const out = await sub.done;
        assert.equal(out.code, 0, out.stderr);
        assert.equal(out.stdout.trim(), `interop/x hello ${pubV}`);
      } finally {
        await tb.close();
      }
    });
  }

  test('mosquitto_sub receives a retained message from mosquitto_pub -r, in v3.1.1 and v5 [MQTT-3.3.1-5]', async () => {
    const tb = await startBroker();
    try {
      const pub = await run('mosquitto_pub', [
        ...target(tb),
        '-V',
        'mqttv311',
        '-q',
        '1',
        '-r',
        '-t',
        'interop/ret',
        '-m',
        'kept',
      ]).done;
      assert.equal(pub.code, 0, pub.stderr);
      for (const v of ['mqttv311', 'mqttv5']) {
        const sub = await run('mosquitto_sub', [
          ...target(tb),
          '-V',
          v,
          '-t',
          'interop/ret',
          '-C',
          '1',
          '-W',
          '20',
        ]).done;
        assert.equal(sub.stdout.trim(), 'kept');
      }
    } finally {
      await tb.close();
    }
  });

  test('mosquitto_rr gets a reply through Response Topic and Correlation Data (MQTT 5.0 §4.10)', async () => {
    const tb = await startBroker();
    try {
      const responder = await tb.client({ clientId: 'responder' });
      await responder.subscribeAsync('svc/req', { qos: 1 });
      responder.on('message', (_topic, payload, packet) => {
        const props = packet.properties ?? {};
        if (!props.responseTopic) return;
        const reply: { correlationData?: Buffer } = {};
        if (props.correlationData) reply.correlationData = props.correlationData;
        responder.publish(props.responseTopic, `re: ${payload}`, { qos: 1, properties: reply });
      });
      const rr = await run('mosquitto_rr', [
        ...target(tb),
        '-V',
        'mqttv5',
        '-t',
        'svc/req',
        '-e',
        'svc/resp',
        '-m',
        'ping',
        '-W',
        '20',
      ]).done;
      assert.equal(rr.code, 0, rr.stderr);
      assert.equal(rr.stdout.trim(), 're: ping');
    } finally {
      await tb.close();
    }
  });

  test('mosquitto_sub -R skips retained and mosquitto_pub -D passes user properties (MQTT 5.0 §3.3.2.3.7)', async () => {
    const tb = await startBroker();
    try {
      const seen: Array<Record<string, unknown>> = [];
      const watcher = await tb.client({ clientId: 'watcher' });
      await watcher.subscribeAsync('interop/up');
      const got = new Promise<void>((resolve) =>
        watcher.on('message', (_t, _p, packet) => {
          seen.push({ ...packet.properties?.userProperties });
          resolve();
        }),
      );
      const pub = await run('mosquitto_pub', [
        ...target(tb),
        '-V',
        'mqttv5',
        '-t',
        'interop/up',
        '-m',
        'x',
        '-D',
        'publish',
        'user-property',
        'site',
        'lab',
      ]).done;
      assert.equal(pub.code, 0, pub.stderr);
      await got;
      assert.deepEqual(seen[0], { site: 'lab' });
    } finally {
      await tb.close();
    }
  });

  test('a WebSocket client wrapped by webSocketDuplex gets what mosquitto_pub sends over TCP (MQTT 5.0 §6)', async () => {
    const { WebSocketServer } = await import('ws');
    const { webSocketDuplex, selectMqttProtocol } = await import('../../src/mqtt/ws-stream.js');
    const tb = await startBroker();
    const wss = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      handleProtocols: selectMqttProtocol,
    });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    wss.on('connection', (socket, req) => {
      tb.broker.handleConnection(webSocketDuplex(socket), {
        remoteAddress: req.socket.remoteAddress ?? '',
        remotePort: req.socket.remotePort ?? 0,
        transport: 'ws',
      });
    });
    try {
      const port = (wss.address() as { port: number }).port;
      const mqtt = await import('mqtt');
      const ws = await mqtt.connectAsync(`ws://127.0.0.1:${port}/mqtt`, {
        protocolVersion: 5,
        reconnectPeriod: 0,
      });
      await ws.subscribeAsync('ws/t', { qos: 1 });
      const got = new Promise<string>((r) => ws.on('message', (_t, p) => r(p.toString())));
      const pub = await run('mosquitto_pub', [
        ...target(tb),
        '-V',
        'mqttv311',
        '-q',
        '1',
        '-t',
        'ws/t',
        '-m',
        'over ws',
      ]).done;
      assert.equal(pub.code, 0, pub.stderr);
      assert.equal(await got, 'over ws');
      await ws.endAsync();
    } finally {
      await new Promise<void>((r) => wss.close(() => r()));
      await tb.close();
    }
  });
});
