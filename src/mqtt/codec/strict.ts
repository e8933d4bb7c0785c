import { isUtf8 } from 'node:buffer';
import { MqttProtocolError, malformed, protocolError } from '../errors.js';
import { ReasonCode } from '../reason-codes.js';
import type { Frame } from './frame-reader.js';
import { PROPERTIES, type PropertyPlace, type UserProperties } from './properties.js';

/**
 * What the strict pass learns that mqtt-packet's decoder does not keep: user properties in wire
 * order (duplicates kept) and the subscription identifiers of a SUBSCRIBE.
 */
export interface StrictInfo {
  userProperties?: UserProperties;
  willUserProperties?: UserProperties;
  /** For PUBLISH: everything the packet carries, so the decoder needs no second pass. */
  publish?: PublishFields;
  /** For PUBACK, PUBREC, PUBREL, PUBCOMP: the whole packet. */
  ack?: { messageId: number; reasonCode: number };
}

const ACK_CODES = new Set([0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]);
const RELEASE_CODES = new Set([0x00, 0x92]);

/** The fields of a PUBLISH read by the strict pass (MQTT 5.0 §3.3.2). */
export interface PublishFields {
  topic: string;
  messageId?: number;
  /** Properties by mqtt-packet's names; user properties are in `StrictInfo.userProperties`. */
  properties: Record<string, unknown>;
  payloadOffset: number;
}

/**
 * Bounds-checked reader over one frame. Every read checks the end; a short read is malformed.
 */
class Reader {
  pos: number;
  end: number;
  constructor(
    readonly buf: Buffer,
    start: number,
    end: number,
  ) {
    this.pos = start;
    this.end = end;
  }
  get left(): number {
    return this.end - this.pos;
  }
  need(n: number): void {
    if (this.pos + n > this.end) throw malformed('packet too short');
  }
  byte(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  int16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  int32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  varint(): number {
    let value = 0;
    let mul = 1;
    for (let i = 0; i < 4; i++) {
      const b = this.byte();
      value += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) {
        // MQTT 5.0 §1.5.5: the encoding must use the minimum number of bytes.
        if (i > 0 && b === 0) throw malformed('variable byte integer not minimally encoded');
        return value;
      }
      mul *= 128;
    }
    throw malformed('variable byte integer longer than four bytes');
  }
  binary(): Buffer {
    const len = this.int16();
    this.need(len);
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }
  /** A UTF-8 Encoded String: well-formed UTF-8 [MQTT-1.5.4-1] without U+0000 [MQTT-1.5.4-2]. */
  string(): string {
    const raw = this.binary();
    checkUtf8(raw);
    return raw.toString('utf8');
  }
}

/** Throws 0x81 Malformed Packet unless `raw` is well-formed UTF-8 without U+0000. */
export function checkUtf8(raw: Buffer): void {
  if (!isUtf8(raw)) throw malformed('invalid UTF-8 in string'); // [MQTT-1.5.4-1]
  if (raw.indexOf(0) !== -1) throw malformed('U+0000 in string'); // [MQTT-1.5.4-2]
}

function readProperties(
  r: Reader,
  place: PropertyPlace,
  values?: Record<string, unknown>,
): UserProperties | undefined {
  const length = r.varint();
  r.need(length);
  const end = r.pos + length;
  const outerEnd = r.end;
  r.end = end;
  const seen = new Set<number>();
  let user: UserProperties | undefined;
  while (r.pos < end) {
    const id = r.varint(); // MQTT 5.0 §2.2.2.2: the identifier is a Variable Byte Integer
    const spec = PROPERTIES.get(id);
    // MQTT 5.0 §2.2.2.2: an identifier not valid for the packet type makes it malformed.
    if (!spec?.places.includes(place)) {
      throw malformed(`property 0x${id.toString(16)} not allowed in ${place}`);
    }
    if (spec.type !== 'pair') {
      // MQTT 5.0 §3.x.2.x: "It is a Protocol Error to include the <property> more than once".
      if (seen.has(id)) throw protocolError(`property ${spec.name} repeated`);
      seen.add(id);
    }
    switch (spec.type) {
      case 'byte': {
        const v = r.byte();
        // Boolean-valued bytes other than 0 or 1 are a Protocol Error (e.g. [MQTT-3.1.2-?]
        // Request Problem Information, Payload Format Indicator).
        if (v > 1) throw protocolError(`property ${spec.name} value ${v} out of range`);
        if (values) values[spec.name] = v === 1;
        break;
      }
      case 'int16': {
        const v = r.int16();
        // MQTT 5.0 §3.1.2.11.3: Receive Maximum of 0 is a Protocol Error.
        if (id === 0x21 && v === 0) throw protocolError('Receive Maximum of 0');
        // MQTT 5.0 §3.3.2.3.4: Topic Alias of 0 is a Protocol Error (checked in publish).
        if (values) values[spec.name] = v;
        break;
      }
      case 'int32': {
        const v = r.int32();
        // MQTT 5.0 §3.1.2.11.4: Maximum Packet Size of 0 is a Protocol Error.
        if (id === 0x27 && v === 0) throw protocolError('Maximum Packet Size of 0');
        if (values) values[spec.name] = v;
        break;
      }
      case 'var': {
        const v = r.varint();
        // MQTT 5.0 §3.8.2.1.2: a Subscription Identifier of 0 is a Protocol Error.
        if (id === 0x0b && v === 0) throw protocolError('Subscription Identifier of 0');
        if (values) values[spec.name] = v;
        break;
      }
      case 'string': {
        const v = r.string();
        if (values) values[spec.name] = v;
        break;
      }
      case 'binary': {
        const v = r.binary();
        if (values) values[spec.name] = Buffer.from(v); // a copy: the frame buffer is reused
        break;
      }
      case 'pair': {
        const k = r.string();
        const v = r.string();
        if (!user) user = [];
        user.push([k, v]);
        break;
      }
    }
  }
  r.end = outerEnd;
  return user;
}

function expectEnd(r: Reader, what: string): void {
  if (r.pos !== r.end) throw malformed(`trailing bytes in ${what}`);
}

/**
 * Walks one frame and applies the checks mqtt-packet's parser does not make: strict UTF-8,
 * duplicate and misplaced properties, property values, exact lengths and reserved bits. Throws an
 * `MqttProtocolError` carrying the reason code. `version` is the connection's protocol level
 * (0 before CONNECT).
 */
export function strictCheck(frame: Frame, version: number): StrictInfo {
  const type = frame.header >> 4;
  const flags = frame.header & 0x0f;
  const r = new Reader(frame.bytes, frame.bodyOffset, frame.bytes.length);
  const v5 = version === 5;
  switch (type) {
    case 1:
      return checkConnect(r);
    case 3: {
      const qos = (flags >> 1) & 3;
      // [MQTT-3.3.1-4] a PUBLISH must not have both QoS bits set.
      if (qos === 3) throw malformed('PUBLISH with QoS 3');
      // [MQTT-3.3.1-2] DUP must be 0 for QoS 0.
      if (qos === 0 && flags & 0x08) throw malformed('DUP set on a QoS 0 PUBLISH');
      const topic = r.string(); // topic name, [MQTT-3.3.2-1]
      const messageId = qos > 0 ? r.int16() : undefined;
      const properties: Record<string, unknown> = {};
      const userProperties = v5 ? readProperties(r, 'publish', properties) : undefined;
      const publish: PublishFields = { topic, properties, payloadOffset: r.pos };
      if (messageId !== undefined) publish.messageId = messageId;
      return userProperties ? { userProperties, publish } : { publish };
    }
    case 4:
    case 5:
    case 6:
    case 7: {
      // [MQTT-3.6.1-1] PUBREL has flags 0010; the others 0000 [MQTT-2.2.2-1].
      if (flags !== (type === 6 ? 2 : 0)) throw malformed('reserved flags set');
      const messageId = r.int16();
      let reasonCode = 0;
      if (v5 && r.left > 0) {
        reasonCode = r.byte();
        // MQTT 5.0 §3.4.2.1, §3.5.2.1 (PUBACK/PUBREC), §3.6.2.1, §3.7.2.1 (PUBREL/PUBCOMP).
        const allowed = type < 6 ? ACK_CODES : RELEASE_CODES;
        if (!allowed.has(reasonCode))
          throw malformed(`invalid reason code 0x${reasonCode.toString(16)}`);
        if (r.left > 0) {
          const place = (['puback', 'pubrec', 'pubrel', 'pubcomp'] as const)[type - 4]!;
          readProperties(r, place);
        }
      }
      expectEnd(r, 'acknowledgement');
      return { ack: { messageId, reasonCode } };
    }
    case 8: {
      if (flags !== 2) throw malformed('SUBSCRIBE reserved flags'); // [MQTT-3.8.1-1]
      r.int16();
      const userProperties = v5 ? readProperties(r, 'subscribe') : undefined;
      // [MQTT-3.8.3-3] the payload must contain at least one Topic Filter.
      if (r.left === 0) throw protocolError('SUBSCRIBE without topic filters');
      while (r.left > 0) {
        r.string();
        const options = r.byte();
        // [MQTT-3.8.3-5] reserved bits of the options byte must be 0; v3.1.1 [MQTT-3-8.3-4].
        if (options & (v5 ? 0xc0 : 0xfc)) throw malformed('SUBSCRIBE options reserved bits');
        if ((options & 3) === 3) throw malformed('SUBSCRIBE QoS 3'); // [MQTT-3.8.3-4]
        if (v5 && ((options >> 4) & 3) === 3) throw protocolError('Retain Handling 3');
      }
      return userProperties ? { userProperties } : {};
    }
    case 10: {
      if (flags !== 2) throw malformed('UNSUBSCRIBE reserved flags'); // [MQTT-3.10.1-1]
      r.int16();
      const userProperties = v5 ? readProperties(r, 'unsubscribe') : undefined;
      // [MQTT-3.10.3-2] the payload must contain at least one Topic Filter.
      if (r.left === 0) throw protocolError('UNSUBSCRIBE without topic filters');
      while (r.left > 0) r.string();
      return userProperties ? { userProperties } : {};
    }
    case 12:
      if (flags !== 0) throw malformed('PINGREQ reserved flags'); // [MQTT-2.2.2-1]
      expectEnd(r, 'PINGREQ');
      return {};
    case 14: {
      if (flags !== 0) throw malformed('DISCONNECT reserved flags'); // [MQTT-3.14.1-1]
      let userProperties: UserProperties | undefined;
      if (v5 && r.left > 0) {
        r.byte();
        if (r.left > 0) userProperties = readProperties(r, 'disconnect');
      }
      expectEnd(r, 'DISCONNECT');
      return userProperties ? { userProperties } : {};
    }
    case 15: {
      // AUTH exists only in MQTT 5; type 15 is reserved in 3.1.1 [MQTT-2.2.1].
      if (!v5) throw malformed('AUTH packet before MQTT 5');
      if (flags !== 0) throw malformed('AUTH reserved flags'); // [MQTT-3.15.1-1]
      if (r.left > 0) {
        r.byte();
        readProperties(r, 'auth');
      }
      expectEnd(r, 'AUTH');
      return {};
    }
    case 0:
      throw malformed('reserved packet type 0');
    default:
      // CONNACK, SUBACK, UNSUBACK and PINGRESP only flow from server to client.
      throw protocolError(`packet type ${type} is not sent by clients`);
  }
}

function checkConnect(r: Reader): StrictInfo {
  let level = 0;
  try {
    return checkConnectBody(r, (l) => {
      level = l;
    });
  } catch (e) {
    if (e instanceof MqttProtocolError && level !== 0) e.connectVersion = level;
    throw e;
  }
}

function checkConnectBody(r: Reader, onLevel: (level: number) => void): StrictInfo {
  const name = r.binary().toString('latin1');
  const level = r.byte();
  const base = level & 0x7f; // bit 7 marks a bridge (Mosquitto convention)
  onLevel(base);
  const flags = r.byte();
  // [MQTT-3.1.2-1] protocol name "MQTT" (3.1.1, 5) or "MQIsdp" (3.1); [MQTT-3.1.2-2] any other
  // name or level is answered with return code 0x01 (unacceptable protocol version). "MQTT" at
  // level 3 is accepted as 3.1: MQTT.js sends it for protocolVersion 3.
  if (!((name === 'MQTT' && base >= 3 && base <= 5) || (name === 'MQIsdp' && base === 3))) {
    throw new MqttProtocolError(
      ReasonCode.UnsupportedProtocolVersion,
      `unsupported protocol ${name} level ${level}`,
    );
  }
  if (flags & 1) throw malformed('CONNECT reserved flag set'); // [MQTT-3.1.2-3]
  const will = (flags & 0x04) !== 0;
  const willQos = (flags >> 3) & 3;
  if (willQos === 3) throw malformed('Will QoS 3'); // [MQTT-3.1.2-14]
  if (!will && (willQos !== 0 || flags & 0x20)) {
    throw malformed('Will QoS/Retain set without Will Flag'); // [MQTT-3.1.2-11] [MQTT-3.1.2-13]
  }
  // [MQTT-3.1.2-22] (3.1.1): a password without a user name is not allowed.
  if (base !== 5 && flags & 0x40 && !(flags & 0x80)) {
    throw malformed('Password Flag without User Name Flag');
  }
  r.int16();
  const info: StrictInfo = {};
  if (base === 5) {
    const up = readProperties(r, 'connect');
    if (up) info.userProperties = up;
  }
  r.string(); // client identifier [MQTT-3.1.3-4]
  if (will) {
    if (base === 5) {
      const up = readProperties(r, 'will');
      if (up) info.willUserProperties = up;
    }
    r.string(); // will topic
    r.binary(); // will payload
  }
  if (flags & 0x80) r.string(); // user name [MQTT-3.1.3-11]
  if (flags & 0x40) r.binary();
  expectEnd(r, 'CONNECT');
  return info;
}
