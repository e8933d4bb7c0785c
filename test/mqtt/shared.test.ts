import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { IPublishPacket } from 'mqtt-packet';
import { ManualClock } from '../../src/util/clock.js';
import { collect, type RawClient, startBroker, waitFor } from './helpers.js';

const pub = (p: unknown) => p as IPublishPacket;

async function member(raw: RawClient, filter: string, qos: 0 | 1 | 2, clientId: string) {
  await raw.connect({ clientId });
  raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos }] });
  await raw.next('suback');
}

describe('shared subscriptions', () => {
  test('distributes messages round-robin among group members (MQTT 5.0 §4.8.2)', async () => {
    const tb = await startBroker();
    try {
      const a = await tb.raw();
      const b = await tb.raw();
      await member(a, '$share/g/jobs/+', 0, 'a');
      await member(b, '$share/g/jobs/+', 0, 'b');
      const plain = await tb.client();
      await plain.subscribeAsync('jobs/#');
      const all = collect(plain, 4);
      for (let i = 0; i < 4; i++) {
        await tb.broker.publish({ topic: `jobs/${i}`, payload: Buffer.from(String(i)), qos: 0 });
      }
      assert.equal((await all).length, 4, 'an ordinary subscription still gets every message');
      const fromA = [pub(await a.next('publish')), pub(await a.next('publish'))];
      const fromB = [pub(await b.next('publish')), pub(await b.next('publish'))];
      assert.deepEqual(
        fromA.map((m) => m.payload.toString()),
        ['0', '2'],
      );
      assert.deepEqual(
        fromB.map((m) => m.payload.toString()),
        ['1', '3'],
      );
    } finally {
      await tb.close();
    }
  });

  test('redelivers an unacknowledged QoS 1 message to another member when one disconnects (MQTT 5.0 §4.8.2)', async () => {
    const tb = await startBroker();
    try {
      const a = await tb.raw();
      await member(a, '$share/w/task', 1, 'wa');
      await tb.broker.publish({ topic: 'task', payload: Buffer.from('t1'), qos: 1 });
      const first = pub(await a.next('publish'));
      assert.equal(first.payload.toString(), 't1');
      const b = await tb.raw();
      await member(b, '$share/w/task', 1, 'wb');
      a.socket.destroy(); // leaves without PUBACK
      const again = pub(await b.next('publish'));
      assert.equal(again.payload.toString(), 't1');
      b.send({ cmd: 'puback', messageId: again.messageId! });
      await waitFor(() => tb.broker.stats.messages.inflight === 0, 'ack');
    } finally {
      await tb.close();
    }
  });

  test('sends no retained messages to a new shared subscription (MQTT 5.0 §4.8.2)', async () => {
    const tb = await startBroker();
    try {
      await tb.broker.publish({ topic: 'sr', payload: Buffer.from('r'), qos: 0, retain: true });
      const a = await tb.raw();
      await member(a, '$share/g/sr', 0, 'sr1');
      a.send({ cmd: 'pingreq' });
      await a.next('pingresp');
      assert.equal(a.packets.filter((p) => p.cmd === 'publish').length, 0);
    } finally {
      await tb.close();
    }
  });

  test('refuses shared subscriptions when not available with 0x9E (MQTT 5.0 §3.9.3)', async () => {
    const tb = await startBroker({ limits: { sharedSubscriptionAvailable: false } });
    try {
      const raw = await tb.raw();
      await raw.connect();
      raw.send({
        cmd: 'subscribe',
        messageId: 1,
        subscriptions: [{ topic: '$share/g/x', qos: 0 }],
      });
      assert.deepEqual(((await raw.next('suback')) as { granted: number[] }).granted, [0x9e]);
    } finally {
      await tb.close();
    }
  });
});

describe('$SYS statistics', () => {
  test('publishes broker statistics under $SYS/broker periodically', async () => {
    const clock = new ManualClock();
    const tb = await startBroker({ clock, sysInterval: 10 });
    try {
      const c = await tb.client({ clientId: 'sys' });
      await c.subscribeAsync('$SYS/broker/#');
      const got = collect(c, 19);
      clock.advance(10_000);
      const ms = await got;
      const byTopic = new Map(ms.map((m) => [m.topic, m.payload.toString()]));
      assert.equal(byTopic.get('$SYS/broker/clients/connected'), '1');
      assert.equal(byTopic.get('$SYS/broker/uptime'), '10 seconds');
      assert.equal(byTopic.get('$SYS/broker/subscriptions/count'), '1');
      assert.ok(byTopic.has('$SYS/broker/messages/received'));
      assert.ok(byTopic.has('$SYS/broker/bytes/sent'));
      assert.ok(byTopic.has('$SYS/broker/retained messages/count'));
    } finally {
      await tb.close();
    }
  });

  test('refuses client publications to $SYS topics [MQTT-4.7.2-1 note]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      await raw.connect();
      raw.send({
        cmd: 'publish',
        topic: '$SYS/fake',
        payload: Buffer.from('x'),
        qos: 1,
        messageId: 1,
        retain: false,
        dup: false,
      });
      assert.equal(((await raw.next('puback')) as { reasonCode: number }).reasonCode, 0x87);
    } finally {
      await tb.close();
    }
  });
});
