import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { IDisconnectPacket, ISubackPacket, IUnsubackPacket } from 'mqtt-packet';
import { collect, frame, props, settle, startBroker, str } from './helpers.js';

describe('SUBSCRIBE / SUBACK', () => {
  test('answers each filter with its own reason code in order [MQTT-3.9.3-1]', async () => {
    const tb = await startBroker({ limits: { maximumQoS: 1 } });
    try {
      const raw = await tb.raw();
      await raw.connect();
      raw.send({
        cmd: 'subscribe',
        messageId: 7,
        subscriptions: [
          { topic: 'a', qos: 0 },
          { topic: 'b', qos: 2 },
          { topic: 'c/#/d', qos: 1 },
          { topic: '$share/g', qos: 1 },
        ],
      });
      const ack = (await raw.next('suback')) as ISubackPacket;
      assert.equal(ack.messageId, 7);
      assert.deepEqual(ack.granted, [0, 1, 0x8f, 0x8f]);
    } finally {
      await tb.close();
    }
  });

  test('rejects SUBSCRIBE with reserved flags [MQTT-3.8.1-1]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      await raw.connect();
      raw.write(frame(0x80, [0, 1], [0], str('a'), [0]));
      const d = (await raw.next('disconnect')) as IDisconnectPacket;
      assert.equal(d.reasonCode, 0x81);
      await raw.waitClosed();
    } finally {
      await tb.close();
    }
  });

  test('rejects SUBSCRIBE without filters as a protocol error [MQTT-3.8.3-3]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      await raw.connect();
      raw.write(frame(0x82, [0, 1], [0]));
      const d = (await raw.next('disconnect')) as IDisconnectPacket;
      assert.equal(d.reasonCode, 0x82);
    } finally {
      await tb.close();
    }
  });

  test('rejects reserved bits in subscription options [MQTT-3.8.3-5]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      await raw.connect();
      raw.write(frame(0x82, [0, 1], [0], str('a'), [0x40]));
      const d = (await raw.next('disconnect')) as IDisconnectPacket;
      assert.equal(d.reasonCode, 0x81);
    } finally {
      await tb.close();
    }
  });

  test('rejects a Subscription Identifier of 0 as a protocol error (MQTT 5.0 §3.8.2.1.2)', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      await raw.connect();
      raw.write(frame(0x82, [0, 1], props([0x0b, 0]), str('a'), [0]));
      const d = (await raw.next('disconnect')) as IDisconnectPacket;
      assert.equal(d.reasonCode, 0x82);
    } finally {
      await tb.close();
    }
  });

  test('rejects No Local on a shared subscription as a protocol error [MQTT-3.8.3-4]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      await raw.connect();
      raw.send({
        cmd: 'subscribe',
        messageId: 1,
        subscriptions: [{ topic: '$share/g/a', qos: 0, nl: true }],
      });
      const d = (await raw.next('disconnect')) as IDisconnectPacket;
      assert.equal(d.reasonCode, 0x82);
    } finally {
      await tb.close();
    }
  });

  test('closes a 3.1.1 connection that subscribes to an invalid filter [MQTT-4.7.1-2]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      await raw.connect({}, 4);
      raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/#/b', qos: 0 }] }, 4);
      await raw.waitClosed();
    } finally {
      await tb.close();
    }
  });

  test('reports 0x87 for filters the authorizeSubscribe hook refuses and may lower the QoS (MQTT 5.0 §3.9.3)', async () => {
    const tb = await startBroker({
      hooks: {
        authorizeSubscribe: (_c, s) =>
          s.filter.startsWith('secret') ? false : s.filter === 'low' ? 0 : true,
      },
    });
    try {
      const raw = await tb.raw();
      await raw.connect();
      raw.send({
        cmd: 'subscribe',
        messageId: 3,
        subscriptions: [
          { topic: 'secret/x', qos: 1 },
          { topic: 'low', qos: 2 },
          { topic: 'ok', qos: 2 },
        ],
      });
      const ack = (await raw.next('suback')) as ISubackPacket;
      assert.deepEqual(ack.granted, [0x87, 0, 2]);
    } finally {
      await tb.close();
    }
  });

  test('replaces a subscription to the same filter instead of adding one [MQTT-3.8.4-3]', async () => {
    const tb = await startBroker();
    try {
      const c = await tb.client();
      await c.subscribeAsync('r', { qos: 0 });
      await c.subscribeAsync('r', { qos: 1 });
      assert.equal(tb.broker.stats.subscriptions, 1);
      const got = collect(c, 1);
      const p = await tb.client();
      await p.publishAsync('r', 'x', { qos: 1 });
      const [m] = await got;
      assert.equal(m!.packet.qos, 1);
    } finally {
      await tb.close();
    }
  });

  test('delivers overlapping subscriptions once at the highest QoS with every identifier [MQTT-3.3.4-2] [MQTT-3.3.4-3]', async () => {
    const tb = await startBroker();
    try {
      const c = await tb.client();
      await c.subscribeAsync('o/+', { qos: 0, properties: { subscriptionIdentifier: 1 } });
      await c.subscribeAsync('o/#', { qos: 2, properties: { subscriptionIdentifier: 2 } });
      await c.subscribeAsync('o/x', { qos: 1 });
      const got = collect(c, 1);
      const p = await tb.client();
      await p.publishAsync('o/x', 'm', { qos: 2 });
      const [m] = await got;
      await settle();
      assert.equal(m!.packet.qos, 2);
      assert.deepEqual([m!.packet.properties?.subscriptionIdentifier].flat().sort(), [1, 2]);
    } finally {
      await tb.close();
    }
  });

  test('does not send a message back to its publisher with No Local [MQTT-3.8.3-3]', async () => {
    const tb = await startBroker();
    try {
      const c = await tb.client();
      await c.subscribeAsync('nl', { qos: 1, nl: true });
      await c.subscribeAsync('nl2', { qos: 1 });
      const got = collect(c, 1);
      await c.publishAsync('nl', 'own', { qos: 1 });
      await c.publishAsync('nl2', 'other', { qos: 1 });
      const [m] = await got;
      assert.equal(m!.topic, 'nl2');
    } finally {
      await tb.close();
    }
  });

  test('does not match $SYS topics with # [MQTT-4.7.2-1]', async () => {
    const tb = await startBroker();
    try {
      const c = await tb.client();
      await c.subscribeAsync('#', { qos: 0 });
      await c.subscribeAsync('$SYS/broker/uptime', { qos: 0 });
      const got = collect(c, 1);
      tb.broker.publishSys();
      const [m] = await got;
      assert.equal(m!.topic, '$SYS/broker/uptime');
    } finally {
      await tb.close();
    }
  });
});

describe('UNSUBSCRIBE / UNSUBACK', () => {
  test('answers 0x00 or 0x11 No subscription existed per filter [MQTT-3.11.3-1]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      await raw.connect();
      raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'u/1', qos: 0 }] });
      await raw.next('suback');
      raw.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['u/1', 'u/2'] });
      const ack = (await raw.next('unsuback')) as IUnsubackPacket;
      assert.equal(ack.messageId, 2);
      assert.deepEqual(ack.granted, [0x00, 0x11]);
      assert.equal(tb.broker.stats.subscriptions, 0);
    } finally {
      await tb.close();
    }
  });

  test('rejects UNSUBSCRIBE with reserved flags [MQTT-3.10.1-1]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      await raw.connect();
      raw.write(frame(0xa0, [0, 1], [0], str('a')));
      const d = (await raw.next('disconnect')) as IDisconnectPacket;
      assert.equal(d.reasonCode, 0x81);
    } finally {
      await tb.close();
    }
  });

  test('stops delivery after UNSUBSCRIBE and answers 3.1.1 with a bare UNSUBACK [MQTT-3.10.4-1]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      await raw.connect({}, 4);
      raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'u', qos: 0 }] }, 4);
      await raw.next('suback');
      raw.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['u'] }, 4);
      await raw.next('unsuback');
      await tb.broker.publish({ topic: 'u', payload: Buffer.from('x'), qos: 0 });
      raw.send({ cmd: 'pingreq' }, 4);
      await raw.next('pingresp');
      assert.equal(raw.packets.filter((p) => p.cmd === 'publish').length, 0);
    } finally {
      await tb.close();
    }
  });
});
