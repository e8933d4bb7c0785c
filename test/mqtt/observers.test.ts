import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { IDisconnectPacket } from 'mqtt-packet';
import { startBroker, waitFor } from './helpers.js';

describe('observer hooks and administrative disconnect', () => {
  test('reports connect, message and disconnect to the observer hooks', async () => {
    const events: string[] = [];
    const tb = await startBroker({
      hooks: {
        onConnect: (c, i) => events.push(`connect ${c.clientId} present=${i.sessionPresent}`),
        onMessage: (c, m) => events.push(`message ${c.clientId} ${m.topic} ${m.payload}`),
        onDisconnect: (c, i) => events.push(`disconnect ${c.clientId} graceful=${i.graceful}`),
      },
    });
    try {
      const c = await tb.client({ clientId: 'obs' });
      assert.equal(tb.broker.isConnected('obs'), true);
      assert.equal(tb.broker.isConnected('nobody'), false);
      await c.publishAsync('o/t', 'hi', { qos: 1 });
      await c.endAsync();
      await waitFor(() => events.length === 3, 'disconnect event');
      assert.deepEqual(events, [
        'connect obs present=false',
        'message obs o/t hi',
        'disconnect obs graceful=true',
      ]);
    } finally {
      await tb.close();
    }
  });

  test('keeps serving when an observer hook throws', async () => {
    const tb = await startBroker({
      hooks: {
        onMessage: () => {
          throw new Error('observer bug');
        },
      },
    });
    try {
      const c = await tb.client();
      await c.publishAsync('x', 'y', { qos: 1 });
      assert.equal(c.connected, true);
    } finally {
      await tb.close();
    }
  });

  test('disconnects a client administratively with 0x98 and a Server Reference (MQTT 5.0 §4.11)', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      await raw.connect({
        clientId: 'evict',
        clean: false,
        properties: { sessionExpiryInterval: 60 },
      });
      assert.equal(
        tb.broker.disconnectClient('evict', 0x9d, {
          serverReference: 'b:1883',
          discardSession: true,
        }),
        true,
      );
      const d = (await raw.next('disconnect')) as IDisconnectPacket;
      assert.equal(d.reasonCode, 0x9d);
      assert.equal(d.properties?.serverReference, 'b:1883');
      assert.equal(tb.broker.stats.sessions.total, 0);
      assert.equal(tb.broker.disconnectClient('nobody'), false);
    } finally {
      await tb.close();
    }
  });
});
