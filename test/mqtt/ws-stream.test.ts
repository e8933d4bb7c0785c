import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import mqttPacket from 'mqtt-packet';
import { WebSocket, WebSocketServer } from 'ws';
import { MqttBroker } from '../../src/mqtt/broker.js';
import { selectMqttProtocol, webSocketDuplex } from '../../src/mqtt/ws-stream.js';

async function withServer(fn: (url: string) => Promise<void>): Promise<void> {
  const broker = new MqttBroker({ sysInterval: 0 });
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    handleProtocols: selectMqttProtocol,
  });
  await once(wss, 'listening');
  wss.on('connection', (socket, req) =>
    broker.handleConnection(webSocketDuplex(socket), {
      remoteAddress: req.socket.remoteAddress ?? '',
      remotePort: req.socket.remotePort ?? 0,
      transport: 'ws',
    }),
  );
  try {
    await fn(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}/mqtt`);
  } finally {
    await broker.close();
    await new Promise<void>((r) => wss.close(() => r()));
  }
}

test('negotiates the mqtt subprotocol and carries MQTT in binary frames [MQTT-6.0.0-3]', async () => {
  await withServer(async (url) => {
    const ws = new WebSocket(url, ['mqtt']);
    await once(ws, 'open');
    assert.equal(ws.protocol, 'mqtt');
    const connect = mqttPacket.generate({
      cmd: 'connect',
      protocolVersion: 4,
      clientId: 'w',
      clean: true,
      keepalive: 0,
    } as never);
    // Split across two binary messages: frames need not align with MQTT packets [MQTT-6.0.0-2].
    ws.send(connect.subarray(0, 5));
    ws.send(connect.subarray(5));
    const [data] = (await once(ws, 'message')) as [Buffer];
    assert.equal(Buffer.from(data).toString('hex'), '20020000');
    ws.close();
    await once(ws, 'close');
  });
});

test('closes a WebSocket that sends MQTT in a text frame [MQTT-6.0.0-1]', async () => {
  await withServer(async (url) => {
    const ws = new WebSocket(url, ['mqttv3.1']);
    await once(ws, 'open');
    assert.equal(ws.protocol, 'mqttv3.1');
    ws.send('not binary');
    const [code] = (await once(ws, 'close')) as [number];
    assert.equal(code, 1003);
  });
});
