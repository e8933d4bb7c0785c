/**
 * The load generator's view of MQTT 3.1.1: packets encoded once with mqtt-packet and patched in
 * place (packet identifier, send timestamp), and a scanner that frames the incoming stream by its
 * fixed header without decoding more than the generator needs.
 */
import mqttPacket from 'mqtt-packet';

/** MQTT control packet types (MQTT 3.1.1 §2.2.1, table 2.1). */
export const PacketType = {
  Connect: 1,
  Connack: 2,
  Publish: 3,
  Puback: 4,
  Pubrec: 5,
  Pubrel: 6,
  Pubcomp: 7,
  Subscribe: 8,
  Suback: 9,
  Pingreq: 12,
  Disconnect: 14,
} as const;

export type Qos = 0 | 1 | 2;

/** Bytes the publisher writes at the start of each payload: the send time in µs (float64 BE). */
export const STAMP_BYTES = 8;

/** A PUBLISH encoded once; each copy gets its packet identifier and send time patched in. */
export interface PublishTemplate {
  readonly bytes: Buffer;
  /** Offset of the 2-byte packet identifier, or -1 for QoS 0. */
  readonly idOffset: number;
  /** Offset of the 8-byte send timestamp at the start of the payload. */
  readonly stampOffset: number;
}

/**
 * Keep Alive of the idle scenario's connections (s): each broker then tracks a keep-alive for
 * every connection, as for real devices, while 1.5 × 600 s [MQTT-3.1.2-24] outlasts the
 * scenario, so the connections send no PINGREQ and stay idle.
 */
export const IDLE_KEEP_ALIVE_S = 600;

/** CONNECT of a generator client; `keepalive` 0 (the throughput scenarios) turns it off. */
export function connectPacket(clientId: string, keepalive = 0): Buffer {
  return mqttPacket.generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clientId,
    clean: true,
    keepalive,
  });
}

export function subscribePacket(filter: string, qos: Qos): Buffer {
  return mqttPacket.generate({
    cmd: 'subscribe',
    messageId: 1,
    subscriptions: [{ topic: filter, qos }],
  });
}

export function publishTemplate(topic: string, qos: Qos, payloadSize: number): PublishTemplate {
  const size = Math.max(STAMP_BYTES, payloadSize);
  const payload = Buffer.alloc(size, 0x61);
  const bytes =
    qos === 0
      ? mqttPacket.generate({ cmd: 'publish', topic, payload, qos, retain: false, dup: false })
      : mqttPacket.generate({
          cmd: 'publish',
          topic,
          payload,
          qos,
          messageId: 1,
          retain: false,
          dup: false,
        });
  const stampOffset = bytes.length - size;
  return { bytes, idOffset: qos === 0 ? -1 : stampOffset - 2, stampOffset };
}

/** First byte of the 4-byte acknowledgements (MQTT 3.1.1 §3.4-3.7); PUBREL has flags 0010. */
export const AckHeader = {
  Puback: 0x40,
  Pubrec: 0x50,
  Pubrel: 0x62,
  Pubcomp: 0x70,
} as const;

/** Checks the hand-written acknowledgement headers against mqtt-packet once at startup. */
export function checkAckHeaders(): void {
  const cases = [
    [AckHeader.Puback, mqttPacket.generate({ cmd: 'puback', messageId: 0x0102 })],
    [AckHeader.Pubrec, mqttPacket.generate({ cmd: 'pubrec', messageId: 0x0102 })],
    [AckHeader.Pubrel, mqttPacket.generate({ cmd: 'pubrel', messageId: 0x0102 })],
    [AckHeader.Pubcomp, mqttPacket.generate({ cmd: 'pubcomp', messageId: 0x0102 })],
  ] as const;
  for (const [header, bytes] of cases) {
    const expected = Buffer.from([header, 2, 1, 2]);
    if (!bytes.equals(expected)) {
      throw new Error(
        `ack header 0x${header.toString(16)} disagrees with mqtt-packet: ${bytes.toString('hex')}`,
      );
    }
  }
}

/** Collects 4-byte acknowledgements produced while scanning one chunk, written once after it. */
export class AckBatch {
  private bytes = Buffer.allocUnsafe(4 * 256);
  private length = 0;

  add(header: number, id: number): void {
    if (this.length + 4 > this.bytes.length) {
      const grown = Buffer.allocUnsafe(this.bytes.length * 2);
      this.bytes.copy(grown, 0, 0, this.length);
      this.bytes = grown;
    }
    this.bytes[this.length] = header;
    this.bytes[this.length + 1] = 2;
    this.bytes.writeUInt16BE(id, this.length + 2);
    this.length += 4;
  }

  /** The collected bytes as a fresh buffer (the socket keeps it), or null if none. */
  take(): Buffer | null {
    if (this.length === 0) return null;
    const out = Buffer.from(this.bytes.subarray(0, this.length));
    this.length = 0;
    return out;
  }
}

export type PacketHandler = (
  type: number,
  flags: number,
  buf: Buffer,
  start: number,
  end: number,
  packetStart: number,
) => void;

/**
 * Frames an MQTT byte stream: fixed header byte, remaining length (MQTT 3.1.1 §2.2.3, at most four
 * bytes), body. Calls `onPacket` with the body's bounds inside `buf`, valid during the call only;
 * a packet split across chunks is copied and carried over to the next one.
 */
export class PacketScanner {
  private carry: Buffer | null = null;

  constructor(private readonly onPacket: PacketHandler) {}

  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.carry !== null) {
      buf = Buffer.concat([this.carry, chunk]);
      this.carry = null;
    }
    const length = buf.length;
    let offset = 0;
    while (length - offset >= 2) {
      const header = buf[offset]!;
      let remaining = 0;
      let multiplier = 1;
      let cursor = offset + 1;
      let complete = false;
      for (let i = 0; i < 4 && cursor < length; i++) {
        const byte = buf[cursor++]!;
        remaining += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) {
          complete = true;
          break;
        }
        if (i === 3) throw new Error('malformed remaining length from the broker');
      }
      if (!complete || cursor + remaining > length) break;
      this.onPacket(header >> 4, header & 0x0f, buf, cursor, cursor + remaining, offset);
      offset = cursor + remaining;
    }
    // A copy: `chunk` may be a read buffer that the next read overwrites.
    if (offset < length) this.carry = Buffer.from(buf.subarray(offset));
  }
}

/** Monotonic time in µs, comparable across the worker threads and processes of one machine. */
export function nowMicros(): number {
  const [seconds, nanos] = process.hrtime();
  return seconds * 1e6 + nanos / 1e3;
}
