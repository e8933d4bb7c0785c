import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import mqttPacket, { type IPublishPacket, type Packet } from 'mqtt-packet';
import { PacketDecoder } from '../../src/mqtt/codec/decoder.js';
import { encodePublish } from '../../src/mqtt/codec/encode-publish.js';
import { FrameReader } from '../../src/mqtt/codec/frame-reader.js';
import { strictCheck } from '../../src/mqtt/codec/strict.js';
import { MqttProtocolError } from '../../src/mqtt/errors.js';

function reasonOf(fn: () => unknown): number {
  try {
    fn();
  } catch (e) {
    if (e instanceof MqttProtocolError) return e.reasonCode;
    throw e;
  }
  return -1;
}

function decodeAll(bytes: number[], version = 5) {
  const d = new PacketDecoder(1024);
  if (version) {
    // prime the level with a CONNECT: 10 0d | 00 04 MQTT | level | flags 02 | keepalive 0 | [props 0] | id "a"
    const connect =
      version === 5
        ? [0x10, 0x0e, 0, 4, 0x4d, 0x51, 0x54, 0x54, 5, 2, 0, 0, 0, 0, 1, 0x61]
        : [0x10, 0x0d, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 0, 0, 1, 0x61];
    assert.equal(d.push(Buffer.from(connect)).error, undefined);
  }
  return d.push(Buffer.from(bytes));
}

describe('frame reader', () => {
  test('cuts frames across arbitrary chunk boundaries (MQTT 5.0 §2.1)', () => {
    const r = new FrameReader(1000);
    // PINGREQ c0 00, PUBACK 40 02 00 07, PINGREQ again — fed one byte at a time.
    const bytes = [0xc0, 0x00, 0x40, 0x02, 0x00, 0x07, 0xc0, 0x00];
    const frames = bytes.flatMap((b) => r.push(Buffer.from([b])));
    assert.deepEqual(
      frames.map((f) => f.bytes.toString('hex')),
      ['c000', '40020007', 'c000'],
    );
  });

  test('decodes a two-byte Remaining Length (MQTT 5.0 §1.5.5: 0xC1 0x02 = 321)', () => {
    const r = new FrameReader(1000);
    const body = Buffer.alloc(321);
    const frames = r.push(Buffer.concat([Buffer.from([0x30, 0xc1, 0x02]), body]));
    assert.equal(frames[0]!.bodyOffset, 3);
    assert.equal(frames[0]!.bytes.length, 324);
  });

  test('refuses a Remaining Length beyond the maximum before buffering the body (0x95)', () => {
    const r = new FrameReader(100);
    assert.equal(
      reasonOf(() => r.push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]))),
      0x95,
    );
  });

  test('refuses a fifth Remaining Length byte as malformed (MQTT 5.0 §1.5.5)', () => {
    const r = new FrameReader(1 << 30);
    assert.equal(
      reasonOf(() => r.push(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x01]))),
      0x81,
    );
  });
});

describe('strict checks', () => {
  const check = (bytes: number[], version = 5) => {
    const r = new FrameReader(1 << 20);
    const [f] = r.push(Buffer.from(bytes));
    return reasonOf(() => strictCheck(f!, version));
  };

  test('accepts a well-formed v5 PUBACK with reason and empty properties', () => {
    // 40 | len 4 | id 00 01 | reason 10 | props 00
    assert.equal(check([0x40, 4, 0, 1, 0x10, 0]), -1);
  });

  test('refuses a reason code not defined for the acknowledgement (MQTT 5.0 §3.4.2.1, §3.6.2.1)', () => {
    assert.equal(check([0x40, 3, 0, 1, 0x05]), 0x81); // PUBACK 0x05
    assert.equal(check([0x62, 3, 0, 1, 0x10]), 0x81); // PUBREL 0x10
    assert.equal(check([0x70, 3, 0, 1, 0x92]), -1); // PUBCOMP 0x92 Packet Identifier not found
  });

  test('refuses trailing bytes after a 3.1.1 PUBACK (MQTT 3.1.1 §3.4)', () => {
    assert.equal(check([0x40, 3, 0, 1, 0], 4), 0x81);
  });

  test('refuses a PINGREQ with a body [MQTT-2.2.2-1]', () => {
    assert.equal(check([0xc0, 1, 0]), 0x81);
  });

  test('refuses a client CONNACK as a protocol error (server-to-client packet)', () => {
    assert.equal(check([0x20, 2, 0, 0]), 0x82);
  });

  test('refuses packet type 0 as malformed [MQTT-2.1.3-1 reserved]', () => {
    assert.equal(check([0x00, 0]), 0x81);
  });

  test('refuses a non-minimal Variable Byte Integer inside properties (MQTT 5.0 §1.5.5)', () => {
    // PUBLISH 30 | topic "t" | props length 80 00 (0 encoded on two bytes)
    assert.equal(check([0x30, 5, 0, 1, 0x74, 0x80, 0x00]), 0x81);
  });

  test('refuses a Payload Format Indicator of 2 as a protocol error (MQTT 5.0 §3.3.2.3.2)', () => {
    assert.equal(check([0x30, 6, 0, 1, 0x74, 2, 0x01, 2]), 0x82);
  });

  test('keeps user properties in wire order with duplicates (MQTT 5.0 §3.3.2.3.7)', () => {
    const r = new FrameReader(1 << 20);
    const prop = (k: string, v: string) => [
      0x26,
      0,
      k.length,
      ...Buffer.from(k),
      0,
      v.length,
      ...Buffer.from(v),
    ];
    const p = [...prop('x', '1'), ...prop('y', '2'), ...prop('x', '3')];
    const body = [0, 1, 0x74, p.length, ...p];
    const [f] = r.push(Buffer.from([0x30, body.length, ...body]));
    assert.deepEqual(strictCheck(f!, 5).userProperties, [
      ['x', '1'],
      ['y', '2'],
      ['x', '3'],
    ]);
  });
});

describe('decoder', () => {
  test('decodes packets that follow a CONNECT in the same chunk at its protocol level', () => {
    const connect = [0x10, 0x0e, 0, 4, 0x4d, 0x51, 0x54, 0x54, 5, 2, 0, 0, 0, 0, 1, 0x61];
    const sub = [0x82, 0x07, 0, 1, 0, 0, 1, 0x74, 0x01]; // v5 SUBSCRIBE with empty properties
    const d = new PacketDecoder(1024);
    const { packets, error } = d.push(Buffer.from([...connect, ...sub]));
    assert.equal(error, undefined);
    assert.deepEqual(
      packets.map((p) => p.packet.cmd),
      ['connect', 'subscribe'],
    );
  });

  test('returns the packets before a bad one, then the error', () => {
    const { packets, error } = decodeAll([0xc0, 0x00, 0x30, 0x03, 0x00, 0x09, 0x41]);
    assert.deepEqual(
      packets.map((p) => p.packet.cmd),
      ['pingreq'],
    );
    assert.equal(error?.reasonCode, 0x81);
  });

  test('maps an unknown protocol level to 0x84 [MQTT-3.1.2-2]', () => {
    const d = new PacketDecoder(1024);
    const { error } = d.push(
      Buffer.from([0x10, 0x0d, 0, 4, 0x4d, 0x51, 0x54, 0x54, 9, 2, 0, 0, 0, 1, 0x61]),
    );
    assert.equal(error?.reasonCode, 0x84);
  });
});

describe('PUBLISH encoder', () => {
  test('round-trips through mqtt-packet with every property (MQTT 5.0 §3.3.2.3)', () => {
    const buf = encodePublish(
      {
        topic: 'a/b',
        payload: Buffer.from('hi'),
        qos: 1,
        retain: true,
        dup: true,
        packetId: 513,
        properties: {
          payloadFormatIndicator: true,
          contentType: 'text/plain',
          responseTopic: 'r',
          correlationData: Buffer.from([1, 2]),
          userProperties: [['k', 'v']],
        },
        messageExpiryInterval: 30,
        subscriptionIds: [1, 200, 300000],
        topicAlias: 4,
      },
      5,
    );
    const parser = mqttPacket.parser({ protocolVersion: 5 });
    let out: Packet | undefined;
    parser.on('packet', (p: Packet) => {
      out = p;
    });
    parser.parse(buf);
    const p = out as IPublishPacket;
    assert.equal(p.topic, 'a/b');
    assert.equal(p.messageId, 513);
    assert.equal(p.dup, true);
    assert.equal(p.retain, true);
    assert.equal(p.properties?.messageExpiryInterval, 30);
    assert.deepEqual(p.properties?.subscriptionIdentifier, [1, 200, 300000]);
    assert.equal(p.properties?.topicAlias, 4);
    assert.equal(p.properties?.contentType, 'text/plain');
    assert.deepEqual({ ...p.properties?.userProperties }, { k: 'v' });
    assert.equal(p.payload.toString(), 'hi');
    // Several Subscription Identifiers are for server-to-client PUBLISH only: the strict check of
    // inbound packets refuses the same bytes with 0x82 (repeated property).
    const [f] = new FrameReader(1 << 20).push(buf);
    assert.equal(
      reasonOf(() => strictCheck(f!, 5)),
      0x82,
    );
  });

  test('encodes a 3.1.1 QoS 0 PUBLISH byte for byte (MQTT 3.1.1 §3.3)', () => {
    // 30 | len 07 | topic 00 03 "a/b" | payload "hi"
    const buf = encodePublish(
      { topic: 'a/b', payload: Buffer.from('hi'), qos: 0, retain: false, dup: false },
      4,
    );
    assert.equal(buf.toString('hex'), '3007000361' + '2f62' + '6869');
  });
});

describe('acknowledgement encoder', () => {
  test('writes PUBACK/PUBREC/PUBREL/PUBCOMP byte for byte (MQTT 5.0 §3.4-3.7) [MQTT-3.6.1-1]', async () => {
    const { encodeAck } = await import('../../src/mqtt/codec/encode-ack.js');
    // PUBACK id 0x0102, success: 40 02 01 02 (v5 omits reason 0)
    assert.equal(encodeAck('puback', 0x0102, 0, 5).toString('hex'), '40020102');
    // PUBREC id 7, 0x10 No matching subscribers: 50 03 00 07 10
    assert.equal(encodeAck('pubrec', 7, 0x10, 5).toString('hex'), '5003000710');
    // PUBREL id 7 carries flags 0010: 62 02 00 07
    assert.equal(encodeAck('pubrel', 7, 0, 5).toString('hex'), '62020007');
    // 3.1.1 drops the reason code: PUBCOMP 70 02 00 09
    assert.equal(encodeAck('pubcomp', 9, 0x92, 4).toString('hex'), '70020009');
  });
});

describe('PUBLISH decoding from the strict pass', () => {
  test('gives the same packet as mqtt-packet for a v5 PUBLISH with properties (MQTT 5.0 §3.3)', () => {
    const bytes = mqttPacket.generate(
      {
        cmd: 'publish',
        topic: 'd/e',
        payload: Buffer.from('body'),
        qos: 2,
        messageId: 300,
        retain: true,
        dup: true,
        properties: {
          payloadFormatIndicator: true,
          messageExpiryInterval: 99,
          topicAlias: 3,
          responseTopic: 'resp',
          correlationData: Buffer.from('cd'),
          contentType: 'ct',
        },
      },
      { protocolVersion: 5 },
    );
    const { packets, error } = decodeAll([...bytes]);
    assert.equal(error, undefined);
    const ours = packets[0]!.packet as IPublishPacket;
    const parser = mqttPacket.parser({ protocolVersion: 5 });
    let theirs: IPublishPacket | undefined;
    parser.on('packet', (p: Packet) => {
      theirs = p as IPublishPacket;
    });
    parser.parse(bytes);
    for (const key of ['topic', 'qos', 'dup', 'retain', 'messageId'] as const) {
      assert.equal(ours[key], theirs![key], key);
    }
    assert.equal(ours.payload.toString(), 'body');
    assert.deepEqual({ ...ours.properties }, { ...theirs!.properties });
  });
});
