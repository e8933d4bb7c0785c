import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { IConnackPacket, IDisconnectPacket, ISubackPacket } from 'mqtt-packet';
import { frame, props, startBroker, str, waitFor } from './helpers.js';

describe('announced capabilities are enforced', () => {
  test('disconnects with 0x9B on a PUBLISH above Maximum QoS [MQTT-3.2.2-11]', async () => {
    const tb = await startBroker({ limits: { maximumQoS: 1 } });
    try {
      const raw = await tb.raw();
      await raw.connect();
      raw.send({
        cmd: 'publish',
        topic: 't',
        payload: Buffer.from('x'),
        qos: 2,
        messageId: 1,
        retain: false,
        dup: false,
      });
      assert.equal(((await raw.next('disconnect')) as IDisconnectPacket).reasonCode, 0x9b);
    } finally {
      await tb.close();
    }
  });

  test('refuses a will above Maximum QoS with CONNACK 0x9B [MQTT-3.2.2-12]', async () => {
    const tb = await startBroker({ limits: { maximumQoS: 0 } });
    try {
      const raw = await tb.raw();
      const ack = (await raw.connect({
        will: { topic: 'w', payload: Buffer.from('x'), qos: 1, retain: false },
      })) as IConnackPacket;
      assert.equal(ack.reasonCode, 0x9b);
    } finally {
      await tb.close();
    }
  });

  test('disconnects with 0x9A on a retained PUBLISH when retain is not available [MQTT-3.2.2-14]', async () => {
    const tb = await startBroker({ limits: { retainAvailable: false } });
    try {
      const raw = await tb.raw();
      const ack = (await raw.connect()) as IConnackPacket;
      assert.equal(ack.properties?.retainAvailable, false);
      raw.send({
        cmd: 'publish',
        topic: 't',
        payload: Buffer.from('x'),
        qos: 0,
        retain: true,
        dup: false,
      });
      assert.equal(((await raw.next('disconnect')) as IDisconnectPacket).reasonCode, 0x9a);
    } finally {
      await tb.close();
    }
  });

  test('refuses a will with retain when retain is not available with CONNACK 0x9A [MQTT-3.2.2-13]', async () => {
    const tb = await startBroker({ limits: { retainAvailable: false } });
    try {
      const raw = await tb.raw();
      const ack = (await raw.connect({
        will: { topic: 'w', payload: Buffer.from('x'), qos: 0, retain: true },
      })) as IConnackPacket;
      assert.equal(ack.reasonCode, 0x9a);
    } finally {
      await tb.close();
    }
  });

  test('answers wildcard filters with 0xA2 when wildcards are not available (MQTT 5.0 §3.9.3)', async () => {
    const tb = await startBroker({ limits: { wildcardSubscriptionAvailable: false } });
    try {
      const raw = await tb.raw();
      const ack = (await raw.connect()) as IConnackPacket;
      assert.equal(ack.properties?.wildcardSubscriptionAvailable, false);
      raw.send({
        cmd: 'subscribe',
        messageId: 1,
        subscriptions: [
          { topic: 'a/+', qos: 0 },
          { topic: 'a/b', qos: 0 },
        ],
      });
      assert.deepEqual(((await raw.next('suback')) as ISubackPacket).granted, [0xa2, 0]);
    } finally {
      await tb.close();
    }
  });

  test('disconnects with 0xA1 on a Subscription Identifier when not available (MQTT 5.0 §3.8.2.1.2)', async () => {
    const tb = await startBroker({ limits: { subscriptionIdentifiersAvailable: false } });
    try {
      const raw = await tb.raw();
      await raw.connect();
      raw.write(frame(0x82, [0, 1], props([0x0b, 5]), str('a'), [0]));
      assert.equal(((await raw.next('disconnect')) as IDisconnectPacket).reasonCode, 0xa1);
    } finally {
      await tb.close();
    }
  });

  test('caps the Session Expiry Interval and tells the client in CONNACK (MQTT 5.0 §3.2.2.3.2)', async () => {
    const tb = await startBroker({ limits: { maxSessionExpiryInterval: 100 } });
    try {
      const raw = await tb.raw();
      const ack = (await raw.connect({
        clean: false,
        properties: { sessionExpiryInterval: 5000 },
      })) as IConnackPacket;
      assert.equal(ack.properties?.sessionExpiryInterval, 100);
    } finally {
      await tb.close();
    }
  });

  test('rejects a reason string when the client asked for no problem information [MQTT-3.1.2-29]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      await raw.connect({ properties: { requestProblemInformation: false } });
      raw.write(frame(0x30, str('a/#'), [0]));
      const d = (await raw.next('disconnect')) as IDisconnectPacket;
      assert.equal(d.reasonCode, 0x90);
      assert.equal(d.properties?.reasonString, undefined);
    } finally {
      await tb.close();
    }
  });

  test('closes a connection that never sends CONNECT after the connect timeout (MQTT 5.0 §4.8 note)', async () => {
    const { ManualClock } = await import('../../src/util/clock.js');
    const clock = new ManualClock();
    const tb = await startBroker({ clock });
    try {
      const raw = await tb.raw();
      await waitFor(() => clock.pending > 0, 'connect timer');
      clock.advance(10_000);
      await raw.waitClosed();
    } finally {
      await tb.close();
    }
  });
});
