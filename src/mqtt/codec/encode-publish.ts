import type { MessageProperties } from '../message.js';

/** What one outgoing PUBLISH carries beyond the message (MQTT 5.0 §3.3). */
export interface PublishFrame {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
  dup: boolean;
  packetId?: number;
  properties?: MessageProperties;
  /** Remaining Message Expiry Interval to send, in seconds. */
  messageExpiryInterval?: number;
  subscriptionIds?: number[];
  topicAlias?: number;
}

function varintSize(n: number): number {
  return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4;
}

function writeVarint(buf: Buffer, pos: number, n: number): number {
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    buf[pos++] = byte;
  } while (n > 0);
  return pos;
}

/**
 * Encodes an outgoing PUBLISH. Written by hand rather than with mqtt-packet so that user
 * properties keep their wire order with duplicates [MQTT-3.3.2-18], a delivery can carry several
 * Subscription Identifiers [MQTT-3.3.4-3], and the fan-out hot path allocates one buffer.
 */
export function encodePublish(p: PublishFrame, version: number): Buffer {
  const topicLen = Buffer.byteLength(p.topic);
  let propsLen = 0;
  let contentType = 0;
  let responseTopic = 0;
  const props = p.properties;
  const userLens: Array<[number, number]> = [];
  if (version === 5) {
    if (props?.payloadFormatIndicator !== undefined) propsLen += 2;
    if (p.messageExpiryInterval !== undefined) propsLen += 5;
    if (props?.contentType !== undefined) {
      contentType = Buffer.byteLength(props.contentType);
      propsLen += 3 + contentType;
    }
    if (props?.responseTopic !== undefined) {
      responseTopic = Buffer.byteLength(props.responseTopic);
      propsLen += 3 + responseTopic;
    }
    if (props?.correlationData !== undefined) propsLen += 3 + props.correlationData.length;
    if (p.subscriptionIds) for (const id of p.subscriptionIds) propsLen += 1 + varintSize(id);
    if (p.topicAlias !== undefined) propsLen += 3;
    if (props?.userProperties) {
      for (const [k, v] of props.userProperties) {
        const kl = Buffer.byteLength(k);
        const vl = Buffer.byteLength(v);
        userLens.push([kl, vl]);
        propsLen += 5 + kl + vl;
      }
    }
  }
  const remaining =
    2 +
    topicLen +
    (p.qos > 0 ? 2 : 0) +
    (version === 5 ? varintSize(propsLen) + propsLen : 0) +
    p.payload.length;
  const buf = Buffer.allocUnsafe(1 + varintSize(remaining) + remaining);
  buf[0] = 0x30 | (p.dup ? 0x08 : 0) | (p.qos << 1) | (p.retain ? 1 : 0);
  let pos = writeVarint(buf, 1, remaining);
  pos = buf.writeUInt16BE(topicLen, pos);
  pos += buf.write(p.topic, pos);
  if (p.qos > 0) pos = buf.writeUInt16BE(p.packetId ?? 0, pos);
  if (version === 5) {
    pos = writeVarint(buf, pos, propsLen);
    if (props?.payloadFormatIndicator !== undefined) {
      buf[pos++] = 0x01;
      buf[pos++] = props.payloadFormatIndicator ? 1 : 0;
    }
    if (p.messageExpiryInterval !== undefined) {
      buf[pos++] = 0x02;
      pos = buf.writeUInt32BE(p.messageExpiryInterval, pos);
    }
    if (props?.contentType !== undefined) {
      buf[pos++] = 0x03;
      pos = buf.writeUInt16BE(contentType, pos);
      pos += buf.write(props.contentType, pos);
    }
    if (props?.responseTopic !== undefined) {
      buf[pos++] = 0x08;
      pos = buf.writeUInt16BE(responseTopic, pos);
      pos += buf.write(props.responseTopic, pos);
    }
    if (props?.correlationData !== undefined) {
      buf[pos++] = 0x09;
      pos = buf.writeUInt16BE(props.correlationData.length, pos);
      pos += props.correlationData.copy(buf, pos);
    }
    if (p.subscriptionIds) {
      for (const id of p.subscriptionIds) {
        buf[pos++] = 0x0b;
        pos = writeVarint(buf, pos, id);
      }
    }
    if (p.topicAlias !== undefined) {
      buf[pos++] = 0x23;
      pos = buf.writeUInt16BE(p.topicAlias, pos);
    }
    if (props?.userProperties) {
      let i = 0;
      for (const [k, v] of props.userProperties) {
        const [kl, vl] = userLens[i++]!;
        buf[pos++] = 0x26;
        pos = buf.writeUInt16BE(kl, pos);
        pos += buf.write(k, pos);
        pos = buf.writeUInt16BE(vl, pos);
        pos += buf.write(v, pos);
      }
    }
  }
  p.payload.copy(buf, pos);
  return buf;
}
