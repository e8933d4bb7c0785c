import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type {
  IDisconnectPacket,
  IPubackPacket,
  IPubcompPacket,
  IPublishPacket,
  IPubrecPacket,
  IPubrelPacket,
} from 'mqtt-packet';
import { ManualClock } from '../../src/util/clock.js';
import { collect, frame, props, type RawClient, startBroker, str } from './helpers.js';

const pub = (p: unknown) => p as IPublishPacket;

async function subscriber(raw: RawClient, topic: string, qos: 0 | 1 | 2, extra = {}) {
  raw.send({ cmd: 'subscribe', messageId: 100, subscriptions: [{ topic, qos, ...extra }] });
  await raw.next('suback');
}

describe('PUBLISH QoS flows (inbound)', () => {
  test('acknowledges QoS 1 with PUBACK after routing [MQTT-4.3.2-2]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      await raw.connect();
      raw.send({
        cmd: 'publish',
        topic: 'q1',
        payload: Buffer.from('x'),
        qos: 1,
        messageId: 5,
        retain: false,
        dup: false,
      });
      const ack = (await raw.next('puback')) as IPubackPacket;
      assert.equal(ack.messageId, 5);
      assert.equal(ack.reasonCode, 0x10); // No matching subscribers
    } finally {
      await tb.close();
    }
  });

  test('runs QoS 2 as PUBREC, PUBREL, PUBCOMP and delivers once despite a resent PUBLISH [MQTT-4.3.3-9]', async () => {
    const tb = await startBroker();
    try {
      const sub = await tb.client();
      await sub.subscribeAsync('q2', { qos: 2 });
      let count = 0;
      sub.on('message', () => count++);
      const first = collect(sub, 1);
      const raw = await tb.raw();
      await raw.connect();
      const p = {
        cmd: 'publish',
        topic: 'q2',
        payload: Buffer.from('x'),
        qos: 2,
        messageId: 9,
        retain: false,
      } as const;
      raw.send({ ...p, dup: false });
      assert.equal(((await raw.next('pubrec')) as IPubrecPacket).messageId, 9);
      raw.send({ ...p, dup: true });
      assert.equal(((await raw.next('pubrec')) as IPubrecPacket).messageId, 9);
      raw.send({ cmd: 'pubrel', messageId: 9 });
      const comp = (await raw.next('pubcomp')) as IPubcompPacket;
      assert.equal(comp.messageId, 9);
      assert.equal(comp.reasonCode ?? 0, 0);
      await first;
      // A round trip through the subscriber's connection orders the check after any delivery.
      await sub.subscribeAsync('sync', { qos: 0 });
      assert.equal(count, 1);
    } finally {
      await tb.close();
    }
  });

  test('answers PUBREL for an unknown identifier with PUBCOMP 0x92 (MQTT 5.0 §3.7.2.1)', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      await raw.connect();
      raw.send({ cmd: 'pubrel', messageId: 77 });
      const comp = (await raw.next('pubcomp')) as IPubcompPacket;
      assert.equal(comp.reasonCode, 0x92);
    } finally {
      await tb.close();
    }
  });

  test('answers a QoS 1 PUBLISH reusing an unreleased QoS 2 identifier with 0x91 [MQTT-2.2.1-3]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      await raw.connect();
      const base = {
        cmd: 'publish',
        topic: 'id',
        payload: Buffer.from('x'),
        retain: false,
        dup: false,
      } as const;
      raw.send({ ...base, qos: 2, messageId: 4 });
      await raw.next('pubrec');
      raw.send({ ...base, qos: 1, messageId: 4 });
      const ack = (await raw.next('puback')) as IPubackPacket;
      assert.equal(ack.reasonCode, 0x91);
    } finally {
      await tb.close();
    }
  });

  test('rejects a QoS 1 PUBLISH with Packet Identifier 0 as a protocol error [MQTT-2.2.1-3]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      await raw.connect();
      raw.write(frame(0x32, str('t'), [0, 0], [0]));
      assert.equal(((await raw.next('disconnect')) as IDisconnectPacket).reasonCode, 0x82);
    } finally {
      await tb.close();
    }
  });

  test('rejects a PUBLISH with both QoS bits set as malformed [MQTT-3.3.1-4]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      await raw.connect();
      raw.write(frame(0x36, str('t'), [0, 1], [0]));
      assert.equal(((await raw.next('disconnect')) as IDisconnectPacket).reasonCode, 0x81);
    } finally {
      await tb.close();
    }
  });

  test('rejects DUP on a QoS 0 PUBLISH as malformed [MQTT-3.3.1-2]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      await raw.connect();
      raw.write(frame(0x38, str('t'), [0]));
      assert.equal(((await raw.next('disconnect')) as IDisconnectPacket).reasonCode, 0x81);
    } finally {
      await tb.close();
    }
  });

  test('rejects PUBREL with wrong fixed-header flags as malformed [MQTT-3.6.1-1]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      await raw.connect();
      raw.write([0x60, 0x02, 0x00, 0x01]);
      assert.equal(((await raw.next('disconnect')) as IDisconnectPacket).reasonCode, 0x81);
      await raw.waitClosed();
    } finally {
      await tb.close();
    }
  });

  test('rejects wildcards in a Topic Name with 0x90 [MQTT-3.3.2-2]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      await raw.connect();
      raw.write(frame(0x30, str('a/+'), [0]));
      assert.equal(((await raw.next('disconnect')) as IDisconnectPacket).reasonCode, 0x90);
    } finally {
      await tb.close();
    }
  });

  test('rejects invalid UTF-8 in a Topic Name with 0x81 [MQTT-1.5.4-1] [MQTT-3.3.2-1]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      await raw.connect();
      raw.write(frame(0x30, str([0x61, 0xed, 0xa0, 0x80]), [0])); // an encoded surrogate
      assert.equal(((await raw.next('disconnect')) as IDisconnectPacket).reasonCode, 0x81);
    } finally {
      await tb.close();
    }
  });

  test('rejects a Subscription Identifier in a client PUBLISH with 0x82 [MQTT-3.3.4-6]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      await raw.connect();
      raw.write(frame(0x30, str('t'), props([0x0b, 1])));
      assert.equal(((await raw.next('disconnect')) as IDisconnectPacket).reasonCode, 0x82);
    } finally {
      await tb.close();
    }
  });

  test('rejects a PUBLISH property sent twice with 0x82 (MQTT 5.0 §3.3.2.3)', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      await raw.connect();
      raw.write(frame(0x30, str('t'), props([0x03, ...str('a')], [0x03, ...str('b')])));
      assert.equal(((await raw.next('disconnect')) as IDisconnectPacket).reasonCode, 0x82);
    } finally {
      await tb.close();
    }
  });

  test('survives a garbage stream and keeps serving others (bad client costs only itself)', async () => {
    const tb = await startBroker();
    try {
      const bad = await tb.raw();
      await bad.connect();
      bad.write(Buffer.from([0x30, 0x05, 0x00, 0x09, 0x41]));
      bad.write(Buffer.alloc(64, 0xff));
      await bad.waitClosed();
      const good = await tb.client();
      await good.publishAsync('still', 'alive', { qos: 1 });
    } finally {
      await tb.close();
    }
  });

  test('answers a payload declared UTF-8 that is not with 0x99 [MQTT-3.3.2-4]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      await raw.connect();
      raw.write(frame(0x32, str('t'), [0, 3], props([0x01, 1]), [0xff, 0xfe]));
      const ack = (await raw.next('puback')) as IPubackPacket;
      assert.equal(ack.reasonCode, 0x99);
    } finally {
      await tb.close();
    }
  });

  test('acknowledges an unauthorized PUBLISH with 0x87 and does not deliver it (MQTT 5.0 §3.4.2.1)', async () => {
    const tb = await startBroker({
      hooks: { authorizePublish: (_c, m) => !m.topic.startsWith('no/') },
    });
    try {
      const raw = await tb.raw();
      await raw.connect();
      raw.send({
        cmd: 'publish',
        topic: 'no/x',
        payload: Buffer.from('x'),
        qos: 1,
        messageId: 2,
        retain: false,
        dup: false,
      });
      assert.equal(((await raw.next('puback')) as IPubackPacket).reasonCode, 0x87);
    } finally {
      await tb.close();
    }
  });
});

describe('PUBLISH QoS flows (outbound)', () => {
  test('completes an outbound QoS 2 flow and answers an unknown PUBREC with PUBREL 0x92 [MQTT-4.3.3-4]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      await raw.connect();
      await subscriber(raw, 'o2', 2);
      await tb.broker.publish({ topic: 'o2', payload: Buffer.from('x'), qos: 2 });
      const p = pub(await raw.next('publish'));
      assert.equal(p.qos, 2);
      raw.send({ cmd: 'pubrec', messageId: p.messageId! });
      assert.equal(((await raw.next('pubrel')) as IPubrelPacket).messageId, p.messageId);
      raw.send({ cmd: 'pubcomp', messageId: p.messageId! });
      raw.send({ cmd: 'pubrec', messageId: 999 });
      assert.equal(((await raw.next('pubrel')) as IPubrelPacket).reasonCode, 0x92);
      assert.equal(tb.broker.stats.messages.inflight, 0);
    } finally {
      await tb.close();
    }
  });

  test('re-sends unacknowledged PUBLISH with DUP and PUBREL after reconnect [MQTT-4.4.0-1] [MQTT-3.3.1-1]', async () => {
    const tb = await startBroker();
    try {
      const fields = {
        clientId: 'resend',
        clean: false,
        properties: { sessionExpiryInterval: 300 },
      };
      const a = await tb.raw();
      await a.connect(fields);
      await subscriber(a, 'rs/+', 2);
      await tb.broker.publish({ topic: 'rs/1', payload: Buffer.from('1'), qos: 1 });
      await tb.broker.publish({ topic: 'rs/2', payload: Buffer.from('2'), qos: 2 });
      const p1 = pub(await a.next('publish'));
      const p2 = pub(await a.next('publish'));
      a.send({ cmd: 'pubrec', messageId: p2.messageId! });
      await a.next('pubrel');
      a.socket.destroy();
      await a.waitClosed();
      const b = await tb.raw();
      const ack = await b.connect({ ...fields, clean: false });
      assert.equal((ack as { sessionPresent: boolean }).sessionPresent, true);
      const again = pub(await b.next('publish'));
      assert.equal(again.dup, true);
      assert.equal(again.messageId, p1.messageId);
      assert.equal(((await b.next('pubrel')) as IPubrelPacket).messageId, p2.messageId);
    } finally {
      await tb.close();
    }
  });

  test('queues QoS 1 messages for an offline session and delivers them on return (MQTT 5.0 §4.1)', async () => {
    const tb = await startBroker();
    try {
      const opts = { clientId: 'offline', clean: false, properties: { sessionExpiryInterval: 60 } };
      const c = await tb.client(opts);
      await c.subscribeAsync('off', { qos: 1 });
      await c.endAsync();
      await tb.broker.publish({ topic: 'off', payload: Buffer.from('a'), qos: 1 });
      await tb.broker.publish({ topic: 'off', payload: Buffer.from('b'), qos: 0 });
      assert.equal(tb.broker.stats.messages.queued, 1);
      const { messages } = tb.clientCollecting({ ...opts, clean: false }, 1);
      const [m] = await messages;
      assert.equal(m!.payload.toString(), 'a');
    } finally {
      await tb.close();
    }
  });
});

describe('retained messages', () => {
  test('sends the retained message to new subscribers with RETAIN set [MQTT-3.3.1-5] [MQTT-3.3.1-9]', async () => {
    const tb = await startBroker();
    try {
      const p = await tb.client();
      await p.publishAsync('ret/a', 'kept', { qos: 1, retain: true });
      const s = await tb.client();
      const got = collect(s, 1);
      await s.subscribeAsync('ret/+', { qos: 1 });
      const [m] = await got;
      assert.equal(m!.payload.toString(), 'kept');
      assert.equal(m!.packet.retain, true);
      assert.equal(tb.broker.stats.messages.retained, 1);
    } finally {
      await tb.close();
    }
  });

  test('deletes the retained message on an empty retained PUBLISH [MQTT-3.3.1-6] [MQTT-3.3.1-7]', async () => {
    const tb = await startBroker();
    try {
      const p = await tb.client();
      await p.publishAsync('ret/d', 'x', { qos: 1, retain: true });
      await p.publishAsync('ret/d', '', { qos: 1, retain: true });
      assert.equal(tb.broker.stats.messages.retained, 0);
      const raw = await tb.raw();
      await raw.connect();
      await subscriber(raw, 'ret/d', 1);
      raw.send({ cmd: 'pingreq' });
      await raw.next('pingresp');
      assert.equal(raw.packets.filter((x) => x.cmd === 'publish').length, 0);
    } finally {
      await tb.close();
    }
  });

  test('clears RETAIN on forwarded messages unless Retain As Published [MQTT-3.3.1-12] [MQTT-3.3.1-13]', async () => {
    const tb = await startBroker();
    try {
      const plain = await tb.client();
      await plain.subscribeAsync('rap', { qos: 0 });
      const keep = await tb.client();
      await keep.subscribeAsync('rap', { qos: 0, rap: true });
      const g1 = collect(plain, 1);
      const g2 = collect(keep, 1);
      const p = await tb.client();
      await p.publishAsync('rap', 'x', { qos: 0, retain: true });
      assert.equal((await g1)[0]!.packet.retain, false);
      assert.equal((await g2)[0]!.packet.retain, true);
    } finally {
      await tb.close();
    }
  });

  test('follows Retain Handling 1 (only new subscriptions) and 2 (never) [MQTT-3.3.1-10] [MQTT-3.3.1-11]', async () => {
    const tb = await startBroker();
    try {
      await tb.broker.publish({ topic: 'rh', payload: Buffer.from('r'), qos: 0, retain: true });
      const raw = await tb.raw();
      await raw.connect();
      await subscriber(raw, 'rh', 0, { rh: 1 });
      assert.equal(pub(await raw.next('publish')).retain, true);
      await subscriber(raw, 'rh', 0, { rh: 1 });
      await subscriber(raw, 'rh', 0, { rh: 2 });
      await subscriber(raw, 'rh', 0, { rh: 0 });
      assert.equal(pub(await raw.next('publish')).retain, true);
      raw.send({ cmd: 'pingreq' });
      await raw.next('pingresp');
      assert.equal(raw.packets.filter((x) => x.cmd === 'publish').length, 0);
    } finally {
      await tb.close();
    }
  });
});

describe('message properties', () => {
  test('passes content type, response topic, correlation data and user properties in order with duplicates (MQTT 5.0 §3.3.2.3)', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      await raw.connect();
      await subscriber(raw, 'props', 0);
      const p = await tb.raw();
      await p.connect();
      const user = [
        [0x26, ...str('a'), ...str('1')],
        [0x26, ...str('b'), ...str('2')],
        [0x26, ...str('a'), ...str('3')],
      ];
      p.write(
        frame(
          0x30,
          str('props'),
          props(
            [0x03, ...str('text/plain')],
            [0x08, ...str('reply/to')],
            [0x09, ...str('cid')],
            ...user,
          ),
          [0x68, 0x69],
        ),
      );
      const m = pub(await raw.next('publish'));
      assert.equal(m.properties?.contentType, 'text/plain');
      assert.equal(m.properties?.responseTopic, 'reply/to');
      assert.equal(m.properties?.correlationData?.toString(), 'cid');
      const bytes = Buffer.concat(raw.received);
      assert.notEqual(bytes.indexOf(Buffer.from(user.flat())), -1, 'user properties in wire order');
    } finally {
      await tb.close();
    }
  });

  test('counts Message Expiry down while retained and sends the remaining interval [MQTT-3.3.2-6]', async () => {
    const clock = new ManualClock();
    const tb = await startBroker({ clock });
    try {
      await tb.broker.publish({
        topic: 'exp',
        payload: Buffer.from('x'),
        qos: 0,
        retain: true,
        properties: { messageExpiryInterval: 10 },
      });
      clock.advance(4_000);
      const raw = await tb.raw();
      await raw.connect();
      await subscriber(raw, 'exp', 0);
      assert.equal(pub(await raw.next('publish')).properties?.messageExpiryInterval, 6);
      clock.advance(7_000);
      const late = await tb.raw();
      await late.connect();
      await subscriber(late, 'exp', 0);
      late.send({ cmd: 'pingreq' });
      await late.next('pingresp');
      assert.equal(late.packets.filter((x) => x.cmd === 'publish').length, 0);
      assert.equal(tb.broker.stats.dropped.expired, 1);
    } finally {
      await tb.close();
    }
  });

  test('drops a queued message whose expiry passed before the session returned [MQTT-3.3.2-5]', async () => {
    const clock = new ManualClock();
    const tb = await startBroker({ clock });
    try {
      const fields = { clientId: 'expq', clean: false, properties: { sessionExpiryInterval: 600 } };
      const a = await tb.raw();
      await a.connect(fields);
      await subscriber(a, 'eq', 1);
      a.send({ cmd: 'disconnect' });
      await a.waitClosed();
      await tb.broker.publish({
        topic: 'eq',
        payload: Buffer.from('old'),
        qos: 1,
        properties: { messageExpiryInterval: 5 },
      });
      await tb.broker.publish({
        topic: 'eq',
        payload: Buffer.from('new'),
        qos: 1,
        properties: { messageExpiryInterval: 500 },
      });
      clock.advance(6_000);
      const b = await tb.raw();
      await b.connect(fields);
      const m = pub(await b.next('publish'));
      assert.equal(m.payload.toString(), 'new');
      assert.equal(m.properties?.messageExpiryInterval, 494);
      assert.equal(tb.broker.stats.dropped.expired, 1);
    } finally {
      await tb.close();
    }
  });
});

describe('mixed protocol levels', () => {
  test('delivers one QoS 0 message to 3.1, 3.1.1 and 5.0 subscribers each in its own encoding (MQTT 5.0 §3.3)', async () => {
    const tb = await startBroker();
    try {
      const subs: RawClient[] = [];
      for (const v of [3, 4, 5]) {
        const raw = await tb.raw();
        await raw.connect({ clientId: `mix${v}` }, v);
        raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'mix', qos: 0 }] }, v);
        await raw.next('suback');
        subs.push(raw);
      }
      await tb.broker.publish({
        topic: 'mix',
        payload: Buffer.from('all'),
        qos: 0,
        properties: { contentType: 'text/plain', userProperties: [['k', 'v']] },
      });
      for (const [i, raw] of subs.entries()) {
        const m = pub(await raw.next('publish'));
        assert.equal(m.payload.toString(), 'all');
        assert.equal(m.properties?.contentType, i === 2 ? 'text/plain' : undefined);
      }
    } finally {
      await tb.close();
    }
  });
});
