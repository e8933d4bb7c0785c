import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { IDisconnectPacket, IPublishPacket } from 'mqtt-packet';
import {
  collect,
  frame,
  props,
  type RawClient,
  startBroker,
  str,
  type TestBroker,
  waitFor,
} from './helpers.js';

const pub = (p: unknown) => p as IPublishPacket;

async function subscribe(raw: RawClient, topic: string, qos: 0 | 1 | 2) {
  raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos }] });
  await raw.next('suback');
}

async function roundTrip(raw: RawClient) {
  raw.send({ cmd: 'pingreq' });
  await raw.next('pingresp');
}

/** Leaves behind a session subscribed to `topic` at QoS 1 that outlives its connection. */
async function offlineSubscriber(tb: TestBroker, clientId: string, topic: string) {
  const raw = await tb.raw();
  await raw.connect({ clientId, clean: false, properties: { sessionExpiryInterval: 60 } });
  await subscribe(raw, topic, 1);
  raw.send({ cmd: 'disconnect' });
  await raw.waitClosed();
}

describe('Receive Maximum', () => {
  test('disconnects a client exceeding our Receive Maximum with 0x93 (MQTT 5.0 §3.3.4)', async () => {
    const tb = await startBroker({ limits: { receiveMaximum: 2 } });
    try {
      const raw = await tb.raw();
      await raw.connect();
      for (const id of [1, 2, 3]) {
        raw.send({
          cmd: 'publish',
          topic: 't',
          payload: Buffer.from('x'),
          qos: 2,
          messageId: id,
          retain: false,
          dup: false,
        });
      }
      const d = (await raw.next('disconnect')) as IDisconnectPacket;
      assert.equal(d.reasonCode, 0x93);
      assert.equal(raw.packets.filter((p) => p.cmd === 'pubrec').length, 2);
    } finally {
      await tb.close();
    }
  });

  test('never has more unacknowledged QoS 1 messages out than the client Receive Maximum [MQTT-3.3.4-9]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      await raw.connect({ properties: { receiveMaximum: 2 } });
      await subscribe(raw, 'rm', 1);
      for (let i = 0; i < 5; i++) {
        await tb.broker.publish({ topic: 'rm', payload: Buffer.from(String(i)), qos: 1 });
      }
      await roundTrip(raw);
      const first = raw.packets.filter((p) => p.cmd === 'publish').map(pub);
      assert.equal(first.length, 2);
      assert.equal(tb.broker.stats.messages.queued, 3);
      const seen: string[] = [];
      for (let i = 0; i < 5; i++) {
        const m = pub(await raw.next('publish'));
        seen.push(m.payload.toString());
        raw.send({ cmd: 'puback', messageId: m.messageId! });
      }
      assert.deepEqual(seen, ['0', '1', '2', '3', '4']);
    } finally {
      await tb.close();
    }
  });
});

describe('Maximum Packet Size', () => {
  test('disconnects with 0x95 on an inbound packet above our maximum (MQTT 5.0 §3.2.2.3.6)', async () => {
    const tb = await startBroker({ limits: { maxPacketSize: 200 } });
    try {
      const raw = await tb.raw();
      await raw.connect();
      raw.send({
        cmd: 'publish',
        topic: 't',
        payload: Buffer.alloc(300),
        qos: 0,
        retain: false,
        dup: false,
      });
      const d = (await raw.next('disconnect')) as IDisconnectPacket;
      assert.equal(d.reasonCode, 0x95);
      await raw.waitClosed();
    } finally {
      await tb.close();
    }
  });

  test('discards an outgoing message above the client maximum and counts it [MQTT-3.1.2-25]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      await raw.connect({ properties: { maximumPacketSize: 100 } });
      await subscribe(raw, 'big', 1);
      await tb.broker.publish({ topic: 'big', payload: Buffer.alloc(200), qos: 1 });
      await tb.broker.publish({ topic: 'big', payload: Buffer.from('small'), qos: 1 });
      const m = pub(await raw.next('publish'));
      assert.equal(m.payload.toString(), 'small');
      assert.equal(tb.broker.stats.dropped.packetTooLarge, 1);
      assert.equal(tb.broker.stats.messages.inflight, 1);
    } finally {
      await tb.close();
    }
  });
});

describe('Topic Alias', () => {
  test('resolves client topic aliases (MQTT 5.0 §3.3.2.3.4)', async () => {
    const tb = await startBroker();
    try {
      const sub = await tb.client();
      await sub.subscribeAsync('alias/t', { qos: 0 });
      const got = collect(sub, 2);
      const raw = await tb.raw();
      await raw.connect();
      raw.write(frame(0x30, str('alias/t'), props([0x23, 0, 1]), [0x31]));
      raw.write(frame(0x30, str(''), props([0x23, 0, 1]), [0x32]));
      const ms = await got;
      assert.deepEqual(
        ms.map((m) => `${m.topic}=${m.payload}`),
        ['alias/t=1', 'alias/t=2'],
      );
    } finally {
      await tb.close();
    }
  });

  test('disconnects with 0x94 on an alias above our Topic Alias Maximum [MQTT-3.3.2-9]', async () => {
    const tb = await startBroker({ limits: { topicAliasMaximum: 2 } });
    try {
      const raw = await tb.raw();
      await raw.connect();
      raw.write(frame(0x30, str('a'), props([0x23, 0, 3]), [0x31]));
      assert.equal(((await raw.next('disconnect')) as IDisconnectPacket).reasonCode, 0x94);
    } finally {
      await tb.close();
    }
  });

  test('disconnects with 0x82 on an empty topic with an unknown alias (MQTT 5.0 §3.3.2.3.4)', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      await raw.connect();
      raw.write(frame(0x30, str(''), props([0x23, 0, 1]), [0x31]));
      assert.equal(((await raw.next('disconnect')) as IDisconnectPacket).reasonCode, 0x82);
    } finally {
      await tb.close();
    }
  });

  test('assigns outbound aliases within the client maximum (MQTT 5.0 §3.3.2.3.4)', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      await raw.connect({ properties: { topicAliasMaximum: 1 } });
      await subscribe(raw, 'al/+', 0);
      for (const t of ['al/one', 'al/one', 'al/two']) {
        await tb.broker.publish({ topic: t, payload: Buffer.from('x'), qos: 0 });
      }
      const [a, b, c] = [
        pub(await raw.next('publish')),
        pub(await raw.next('publish')),
        pub(await raw.next('publish')),
      ];
      assert.equal(a.topic, 'al/one');
      assert.equal(a.properties?.topicAlias, 1);
      assert.equal(b.topic, '');
      assert.equal(b.properties?.topicAlias, 1);
      assert.equal(c.topic, 'al/two');
      assert.equal(c.properties?.topicAlias, undefined);
    } finally {
      await tb.close();
    }
  });
});

describe('outgoing queue and backpressure', () => {
  test('bounds an offline session queue and counts the messages it drops', async () => {
    const tb = await startBroker({ limits: { maxQueuedMessages: 3 } });
    try {
      await offlineSubscriber(tb, 'bounded', 'bq');
      for (let i = 0; i < 5; i++) {
        await tb.broker.publish({ topic: 'bq', payload: Buffer.from(String(i)), qos: 1 });
      }
      const stats = tb.broker.stats;
      assert.equal(stats.messages.queued, 3);
      assert.equal(stats.dropped.queueFull, 2);
    } finally {
      await tb.close();
    }
  });

  test('counts QoS 0 messages an offline session does not keep (MQTT 5.0 §4.1)', async () => {
    const tb = await startBroker();
    try {
      await offlineSubscriber(tb, 'away', 'q0');
      await tb.broker.publish({ topic: 'q0', payload: Buffer.from('a'), qos: 0 });
      await tb.broker.publish({ topic: 'q0', payload: Buffer.from('b'), qos: 1 });
      const stats = tb.broker.stats;
      assert.equal(stats.dropped.offlineQos0, 1);
      assert.equal(stats.messages.queued, 1);
    } finally {
      await tb.close();
    }
  });

  test('counts the messages a session still held when it ends with a Clean Start (MQTT 5.0 §4.1)', async () => {
    const tb = await startBroker();
    try {
      await offlineSubscriber(tb, 'gone', 'held');
      for (let i = 0; i < 3; i++) {
        await tb.broker.publish({ topic: 'held', payload: Buffer.from(String(i)), qos: 1 });
      }
      const again = await tb.raw();
      await again.connect({ clientId: 'gone', clean: true });
      const stats = tb.broker.stats;
      assert.equal(stats.messages.queued, 0);
      assert.equal(stats.dropped.sessionEnded, 3);
    } finally {
      await tb.close();
    }
  });

  test('does not count as dropped a QoS 2 message the client acknowledged with PUBREC when its session ends [MQTT-4.3.3]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      await raw.connect({
        clientId: 'half',
        clean: false,
        properties: { sessionExpiryInterval: 60 },
      });
      raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'q2', qos: 2 }] });
      await raw.next('suback');
      await tb.broker.publish({ topic: 'q2', payload: Buffer.from('a'), qos: 2 });
      const first = pub(await raw.next('publish'));
      raw.send({ cmd: 'pubrec', messageId: first.messageId! });
      await raw.next('pubrel');
      await tb.broker.publish({ topic: 'q2', payload: Buffer.from('b'), qos: 2 });
      await raw.next('publish');
      raw.send({ cmd: 'disconnect' });
      await raw.waitClosed();
      const again = await tb.raw();
      await again.connect({ clientId: 'half', clean: true });
      assert.equal(tb.broker.stats.dropped.sessionEnded, 1);
    } finally {
      await tb.close();
    }
  });

  test('keeps delivering to others while one subscriber stops reading', async () => {
    const tb = await startBroker({ limits: { maxQueuedMessages: 50 } });
    try {
      const slow = await tb.raw();
      await slow.connect();
      await subscribe(slow, 'fan', 0);
      slow.socket.pause(); // stops reading: its socket buffers fill, then its queue
      const fast = await tb.client();
      await fast.subscribeAsync('fan', { qos: 0 });
      const count = 400;
      const payload = Buffer.alloc(64 * 1024, 1);
      let received = 0;
      for (let i = 0; i < count; i++) {
        // Publish at the pace of the fast subscriber: each message must reach it.
        const got = collect(fast, 1);
        await tb.broker.publish({ topic: 'fan', payload, qos: 0 });
        received += (await got).length;
      }
      assert.equal(received, count);
      const stats = tb.broker.stats;
      assert.ok(stats.dropped.queueFull > 0, 'the slow subscriber overflowed its own queue');
      assert.ok(stats.messages.queued <= 50);
    } finally {
      await tb.close();
    }
  });
});

describe('queue full policy: backpressure', () => {
  test('holds the publisher instead of dropping when a connected subscriber queue is full', async () => {
    const tb = await startBroker({
      limits: { maxQueuedMessages: 5, queueFullPolicy: 'backpressure' },
    });
    try {
      const sub = await tb.raw();
      await sub.connect({ clientId: 'bp-sub', properties: { receiveMaximum: 1 } });
      await subscribe(sub, 'bp', 1);
      const p = await tb.raw();
      await p.connect({ clientId: 'bp-pub' });
      for (let id = 1; id <= 10; id++) {
        p.send({
          cmd: 'publish',
          topic: 'bp',
          payload: Buffer.from(String(id)),
          qos: 1,
          messageId: id,
          retain: false,
          dup: false,
        });
      }
      // 1 in flight + 5 queued are acknowledged; the 7th waits in the queue, unacknowledged.
      const acks = () => p.packets.filter((x) => x.cmd === 'puback').length;
      await waitFor(() => tb.broker.stats.messages.queued === 6 && acks() === 6, 'held message');
      // The PUBACKs reach the publisher after the queue fills: give a 7th one time to show.
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(acks(), 6);
      const seen: string[] = [];
      for (let i = 0; i < 10; i++) {
        const m = pub(await sub.next('publish'));
        seen.push(m.payload.toString());
        sub.send({ cmd: 'puback', messageId: m.messageId! });
      }
      assert.deepEqual(seen, ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
      await waitFor(() => p.packets.filter((x) => x.cmd === 'puback').length === 10, 'all acks');
      assert.equal(tb.broker.stats.dropped.queueFull, 0);
    } finally {
      await tb.close();
    }
  });

  test('releases a held publisher when the slow subscriber leaves', async () => {
    const tb = await startBroker({
      limits: { maxQueuedMessages: 2, queueFullPolicy: 'backpressure' },
    });
    try {
      const sub = await tb.raw();
      await sub.connect({ clientId: 'gone-sub', properties: { receiveMaximum: 1 } });
      await subscribe(sub, 'bl', 1);
      const p = await tb.raw();
      await p.connect({ clientId: 'held-pub' });
      for (let id = 1; id <= 6; id++) {
        p.send({
          cmd: 'publish',
          topic: 'bl',
          payload: Buffer.from('x'),
          qos: 1,
          messageId: id,
          retain: false,
          dup: false,
        });
      }
      await waitFor(() => tb.broker.stats.messages.queued === 3, 'held message');
      sub.socket.destroy();
      await waitFor(() => p.packets.filter((x) => x.cmd === 'puback').length === 6, 'released');
    } finally {
      await tb.close();
    }
  });
});
