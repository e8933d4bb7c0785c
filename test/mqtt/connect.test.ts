import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { IConnackPacket, IDisconnectPacket } from 'mqtt-packet';
import { ManualClock } from '../../src/util/clock.js';
import { connectV5, frame, props, type RawClient, startBroker, str } from './helpers.js';

const connack = (p: unknown) => p as IConnackPacket;

describe('CONNECT / CONNACK', () => {
  test('accepts MQTT 3.1, 3.1.1 and 5.0 clients [MQTT-3.1.2-1]', async () => {
    const tb = await startBroker();
    try {
      for (const protocolVersion of [3, 4, 5] as const) {
        const c = await tb.client({ protocolVersion, clientId: `v${protocolVersion}` });
        assert.equal(c.connected, true);
      }
      assert.equal(tb.broker.stats.sessions.online, 3);
    } finally {
      await tb.close();
    }
  });

  test('answers an unsupported protocol level with return code 0x01 and closes [MQTT-3.1.2-2]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      raw.write(frame(0x10, str('MQTT'), [6, 0x02, 0, 0], str('x')));
      const ack = connack(await raw.next('connack'));
      assert.equal(ack.returnCode ?? ack.reasonCode, 1);
      await raw.waitClosed();
    } finally {
      await tb.close();
    }
  });

  test('answers a protocol name that does not fit the level with return code 0x01 [MQTT-3.1.2-1]', async () => {
    const tb = await startBroker();
    try {
      for (const [name, level] of [
        ['MQIsdp', 5],
        ['MQIsdp', 4],
        ['MQXX', 4],
      ] as const) {
        const raw = await tb.raw();
        raw.write(frame(0x10, str(name), [level, 0x02, 0, 0], str('x')));
        const ack = connack(await raw.next('connack'));
        assert.equal(ack.returnCode ?? ack.reasonCode, 1, `${name} ${level}`);
        await raw.waitClosed();
      }
    } finally {
      await tb.close();
    }
  });

  test('closes when the CONNECT reserved flag is set [MQTT-3.1.2-3]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      raw.write(connectV5([0], 'x', 0x03));
      const ack = connack(await raw.next('connack'));
      assert.equal(ack.reasonCode, 0x81);
      await raw.waitClosed();
    } finally {
      await tb.close();
    }
  });

  test('closes when the first packet is not CONNECT [MQTT-3.1.0-1]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      raw.write([0xc0, 0x00]); // PINGREQ
      await raw.waitClosed();
      assert.equal(raw.packets.length, 0);
    } finally {
      await tb.close();
    }
  });

  test('treats a second CONNECT as a protocol error 0x82 [MQTT-3.1.0-2]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      assert.equal(connack(await raw.connect({ clientId: 'twice' })).reasonCode, 0);
      raw.write(connectV5([0], 'twice'));
      const d = (await raw.next('disconnect')) as IDisconnectPacket;
      assert.equal(d.reasonCode, 0x82);
      await raw.waitClosed();
    } finally {
      await tb.close();
    }
  });

  test('assigns a client identifier to an empty one and returns it in CONNACK [MQTT-3.1.3-6] [MQTT-3.1.3-7]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      const ack = connack(await raw.connect({ clientId: '' }));
      assert.equal(ack.reasonCode, 0);
      assert.match(String(ack.properties?.assignedClientIdentifier), /^tandem-/);
      const v4 = await tb.raw();
      const ack4 = connack(await v4.connect({ clientId: '', clean: true }, 4));
      assert.equal(ack4.returnCode, 0);
    } finally {
      await tb.close();
    }
  });

  test('refuses an empty client identifier with Clean Session 0 in 3.1.1 (return code 2) [MQTT-3.1.3-8]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      raw.useVersion(4);
      raw.write(frame(0x10, str('MQTT'), [4, 0x00, 0, 0], str('')));
      const ack = connack(await raw.next('connack'));
      assert.equal(ack.returnCode, 2);
      await raw.waitClosed();
      const v3 = await tb.raw();
      v3.useVersion(3);
      v3.write(frame(0x10, str('MQIsdp'), [3, 0x02, 0, 0], str('')));
      const ack3 = connack(await v3.next('connack'));
      assert.equal(ack3.returnCode, 2);
    } finally {
      await tb.close();
    }
  });

  test('rejects invalid UTF-8 in the client identifier with 0x81 [MQTT-1.5.4-1]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      raw.write(connectV5([0], [0x61, 0xc3, 0x28]));
      assert.equal(connack(await raw.next('connack')).reasonCode, 0x81);
      await raw.waitClosed();
    } finally {
      await tb.close();
    }
  });

  test('rejects U+0000 in the client identifier with 0x81 [MQTT-1.5.4-2]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      raw.write(connectV5([0], [0x61, 0x00, 0x62]));
      assert.equal(connack(await raw.next('connack')).reasonCode, 0x81);
      await raw.waitClosed();
    } finally {
      await tb.close();
    }
  });

  test('rejects a CONNECT property sent twice with Protocol Error 0x82 [MQTT-3.1.2-?] (MQTT 5.0 §3.1.2.11.2)', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      raw.write(connectV5(props([0x11, 0, 0, 0, 10], [0x11, 0, 0, 0, 10])));
      assert.equal(connack(await raw.next('connack')).reasonCode, 0x82);
      await raw.waitClosed();
    } finally {
      await tb.close();
    }
  });

  test('rejects a property not allowed in CONNECT as malformed 0x81 (MQTT 5.0 §2.2.2.2)', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      raw.write(connectV5(props([0x23, 0, 1]))); // Topic Alias belongs to PUBLISH only
      assert.equal(connack(await raw.next('connack')).reasonCode, 0x81);
      await raw.waitClosed();
    } finally {
      await tb.close();
    }
  });

  test('rejects Receive Maximum 0 with Protocol Error 0x82 (MQTT 5.0 §3.1.2.11.3)', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      raw.write(connectV5(props([0x21, 0, 0])));
      assert.equal(connack(await raw.next('connack')).reasonCode, 0x82);
    } finally {
      await tb.close();
    }
  });

  test('closes on a Remaining Length longer than four bytes (MQTT 5.0 §1.5.5)', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      raw.write([0x10, 0xff, 0xff, 0xff, 0xff, 0x01]);
      await raw.waitClosed();
    } finally {
      await tb.close();
    }
  });

  test('refuses a CONNECT larger than the Maximum Packet Size with 0x95 (MQTT 5.0 §3.1.2.11.4)', async () => {
    const tb = await startBroker({ limits: { maxPacketSize: 64 } });
    try {
      const raw = await tb.raw();
      raw.write(connectV5([0], 'x'.repeat(100)));
      assert.equal(connack(await raw.next('connack')).reasonCode, 0x95);
      await raw.waitClosed();
    } finally {
      await tb.close();
    }
  });

  test('closes a 3.1.1 CONNECT with a password but no user name [MQTT-3.1.2-22]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      raw.write(frame(0x10, str('MQTT'), [4, 0x42, 0, 0], str('x'), str('pw')));
      await raw.waitClosed();
      assert.equal(raw.packets.length, 0);
    } finally {
      await tb.close();
    }
  });

  test('closes a CONNECT whose will flags are set without the Will Flag [MQTT-3.1.2-11] [MQTT-3.1.2-13]', async () => {
    const tb = await startBroker();
    try {
      const raw = await tb.raw();
      raw.write(connectV5([0], 'x', 0x22)); // Will Retain without Will Flag
      assert.equal(connack(await raw.next('connack')).reasonCode, 0x81);
      await raw.waitClosed();
    } finally {
      await tb.close();
    }
  });
});

describe('authentication hook', () => {
  test('passes credentials and transport to authenticate and refuses with its reason code (MQTT 5.0 §3.2.2.2)', async () => {
    const seen: unknown[] = [];
    const tb = await startBroker({
      hooks: {
        authenticate: async (req) => {
          seen.push(req);
          return req.password?.toString() === 'good'
            ? { accept: true, context: { ns: 'n1' } }
            : { accept: false, reasonCode: 0x86, reasonString: 'bad password' };
        },
      },
    });
    try {
      const raw = await tb.raw();
      const ack = connack(await raw.connect({ username: 'u', password: Buffer.from('bad') }));
      assert.equal(ack.reasonCode, 0x86);
      assert.equal(ack.properties?.reasonString, 'bad password');
      await raw.waitClosed();
      const v4 = await tb.raw();
      const ack4 = connack(await v4.connect({ username: 'u', password: Buffer.from('bad') }, 4));
      assert.equal(ack4.returnCode, 4);
      const ok = await tb.client({ username: 'u', password: 'good' });
      assert.equal(ok.connected, true);
      const last = seen.at(-1) as { username: string; transport: string; remoteAddress: string };
      assert.equal(last.username, 'u');
      assert.equal(last.transport, 'tcp');
      assert.equal(last.remoteAddress, '127.0.0.1');
    } finally {
      await tb.close();
    }
  });

  test('sends a Server Reference chosen by the hook with 0x9C Use another server (MQTT 5.0 §4.11)', async () => {
    const tb = await startBroker({
      hooks: {
        authenticate: () => ({ accept: false, reasonCode: 0x9c, serverReference: 'other:1883' }),
      },
    });
    try {
      const raw = await tb.raw();
      const ack = connack(await raw.connect());
      assert.equal(ack.reasonCode, 0x9c);
      assert.equal(ack.properties?.serverReference, 'other:1883');
    } finally {
      await tb.close();
    }
  });
});

describe('sessions', () => {
  test('reports Session Present when resuming and not after Clean Start [MQTT-3.2.2-2] [MQTT-3.2.2-3]', async () => {
    const tb = await startBroker();
    try {
      const a = await tb.raw();
      const fields = { clientId: 'keep', clean: false, properties: { sessionExpiryInterval: 60 } };
      assert.equal(connack(await a.connect(fields)).sessionPresent, false);
      a.send({ cmd: 'disconnect' });
      await a.waitClosed();
      const b = await tb.raw();
      assert.equal(connack(await b.connect(fields)).sessionPresent, true);
      b.send({ cmd: 'disconnect' });
      await b.waitClosed();
      const c = await tb.raw();
      assert.equal(connack(await c.connect({ ...fields, clean: true })).sessionPresent, false);
    } finally {
      await tb.close();
    }
  });

  test('discards a session with Session Expiry Interval 0 when the connection closes (MQTT 5.0 §3.1.2.11.2)', async () => {
    const tb = await startBroker();
    try {
      const a = await tb.raw();
      await a.connect({ clientId: 'zero', clean: false });
      a.send({ cmd: 'disconnect' });
      await a.waitClosed();
      const b = await tb.raw();
      assert.equal(
        connack(await b.connect({ clientId: 'zero', clean: false })).sessionPresent,
        false,
      );
    } finally {
      await tb.close();
    }
  });

  test('expires a session after its Session Expiry Interval and keeps 0xFFFFFFFF forever (MQTT 5.0 §3.1.2.11.2)', async () => {
    const clock = new ManualClock();
    const tb = await startBroker({ clock });
    try {
      const open = async (clientId: string, expiry: number): Promise<RawClient> => {
        const r = await tb.raw();
        const ack = connack(
          await r.connect({
            clientId,
            clean: false,
            properties: { sessionExpiryInterval: expiry },
          }),
        );
        assert.equal(ack.reasonCode, 0);
        return r;
      };
      for (const [id, expiry] of [
        ['short', 10],
        ['forever', 0xffffffff],
      ] as const) {
        const r = await open(id, expiry);
        r.send({ cmd: 'disconnect' });
        await r.waitClosed();
      }
      clock.advance(9_000);
      assert.equal(tb.broker.stats.sessions.total, 2);
      clock.advance(2_000);
      assert.equal(tb.broker.stats.sessions.total, 1);
      clock.advance(10 * 365 * 24 * 3600 * 1000);
      const again = await tb.raw();
      const ack = connack(
        await again.connect({
          clientId: 'forever',
          clean: false,
          properties: { sessionExpiryInterval: 5 },
        }),
      );
      assert.equal(ack.sessionPresent, true);
    } finally {
      await tb.close();
    }
  });

  test('maps 3.1.1 Clean Session 0 to a session that survives the connection [MQTT-3.1.2-4 (3.1.1)]', async () => {
    const tb = await startBroker();
    try {
      const a = await tb.raw();
      await a.connect({ clientId: 'v4keep', clean: false }, 4);
      a.socket.destroy();
      await a.waitClosed();
      const b = await tb.raw();
      assert.equal(
        connack(await b.connect({ clientId: 'v4keep', clean: false }, 4)).sessionPresent,
        true,
      );
    } finally {
      await tb.close();
    }
  });

  test('closes the existing connection with DISCONNECT 0x8E on session takeover [MQTT-3.1.4-3]', async () => {
    const tb = await startBroker();
    try {
      const a = await tb.raw();
      await a.connect({ clientId: 'dup' });
      const b = await tb.raw();
      assert.equal(connack(await b.connect({ clientId: 'dup' })).reasonCode, 0);
      const d = (await a.next('disconnect')) as IDisconnectPacket;
      assert.equal(d.reasonCode, 0x8e);
      await a.waitClosed();
      assert.equal(b.closed, false);
    } finally {
      await tb.close();
    }
  });

  test('closes a 3.1.1 connection taken over without a packet [MQTT-3.1.4-2 (3.1.1)]', async () => {
    const tb = await startBroker();
    try {
      const a = await tb.raw();
      await a.connect({ clientId: 'dup4' }, 4);
      const b = await tb.raw();
      await b.connect({ clientId: 'dup4' }, 4);
      await a.waitClosed();
      assert.equal(a.packets.length, 0);
    } finally {
      await tb.close();
    }
  });
});

describe('keep alive', () => {
  test('disconnects with 0x8D after one and a half Keep Alive periods of silence [MQTT-3.1.2-22]', async () => {
    const clock = new ManualClock();
    const tb = await startBroker({ clock });
    try {
      const raw = await tb.raw();
      await raw.connect({ keepalive: 10 });
      clock.advance(14_000);
      raw.send({ cmd: 'pingreq' });
      await raw.next('pingresp'); // [MQTT-3.12.4-1]
      clock.advance(14_000);
      assert.equal(raw.closed, false);
      clock.advance(1_000);
      const d = (await raw.next('disconnect')) as IDisconnectPacket;
      assert.equal(d.reasonCode, 0x8d);
      await raw.waitClosed();
    } finally {
      await tb.close();
    }
  });

  test('idle connections share one keep-alive timer: no timer per connection [MQTT-3.1.2-22]', async () => {
    const clock = new ManualClock();
    const tb = await startBroker({ clock });
    try {
      const quiet = await tb.raw();
      await quiet.connect({ keepalive: 10 });
      const talking = await tb.raw();
      await talking.connect({ keepalive: 10 });
      const third = await tb.raw();
      await third.connect({ keepalive: 20 });
      assert.equal(clock.pending, 1);
      clock.advance(10_000);
      talking.send({ cmd: 'pingreq' });
      await talking.next('pingresp');
      clock.advance(5_000);
      assert.equal(((await quiet.next('disconnect')) as IDisconnectPacket).reasonCode, 0x8d);
      assert.equal(talking.closed, false);
      assert.equal(third.closed, false);
      clock.advance(10_000);
      assert.equal(((await talking.next('disconnect')) as IDisconnectPacket).reasonCode, 0x8d);
      assert.equal(third.closed, false);
      clock.advance(5_000);
      assert.equal(((await third.next('disconnect')) as IDisconnectPacket).reasonCode, 0x8d);
    } finally {
      await tb.close();
    }
  });

  test('sends Server Keep Alive when the client asks for more than allowed [MQTT-3.2.2-21]', async () => {
    const tb = await startBroker({ limits: { maxKeepAlive: 30 } });
    try {
      const raw = await tb.raw();
      const ack = connack(await raw.connect({ keepalive: 0 }));
      assert.equal(ack.properties?.serverKeepAlive, 30);
      const fine = await tb.raw();
      const ack2 = connack(await fine.connect({ keepalive: 20 }));
      assert.equal(ack2.properties?.serverKeepAlive, undefined);
    } finally {
      await tb.close();
    }
  });

  test('times out by the Server Keep Alive it sent, not by the client value [MQTT-3.2.2-21]', async () => {
    const clock = new ManualClock();
    const tb = await startBroker({ clock, limits: { maxKeepAlive: 10 } });
    try {
      const raw = await tb.raw();
      const ack = connack(await raw.connect({ keepalive: 60 }));
      assert.equal(ack.properties?.serverKeepAlive, 10);
      clock.advance(15_000);
      assert.equal(((await raw.next('disconnect')) as IDisconnectPacket).reasonCode, 0x8d);
    } finally {
      await tb.close();
    }
  });

  test('announces its limits in CONNACK (MQTT 5.0 §3.2.2.3)', async () => {
    const tb = await startBroker({
      limits: { receiveMaximum: 10, maxPacketSize: 5000, topicAliasMaximum: 7, maximumQoS: 1 },
    });
    try {
      const raw = await tb.raw();
      const ack = connack(await raw.connect());
      assert.equal(ack.properties?.receiveMaximum, 10);
      assert.equal(ack.properties?.maximumPacketSize, 5000);
      assert.equal(ack.properties?.topicAliasMaximum, 7);
      assert.equal(ack.properties?.maximumQoS, 1);
    } finally {
      await tb.close();
    }
  });
});
