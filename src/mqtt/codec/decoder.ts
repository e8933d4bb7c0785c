import mqttPacket, { type Packet } from 'mqtt-packet';
import { MqttProtocolError, malformed } from '../errors.js';
import { ReasonCode } from '../reason-codes.js';
import { type Frame, FrameReader } from './frame-reader.js';
import { type StrictInfo, strictCheck } from './strict.js';

/** A decoded inbound packet with what the strict pass kept and its size on the wire. */
export interface Decoded {
  packet: Packet;
  info: StrictInfo;
  size: number;
}

type Parser = ReturnType<typeof mqttPacket.parser> & { settings: { protocolVersion?: number } };

/**
 * One mqtt-packet parser shared by every connection. It is only ever handed one complete frame
 * at a time and answers synchronously, so no state crosses from one frame (or connection) to the
 * next; sharing it saves an EventEmitter and a buffer list per idle connection.
 */
class SharedParser {
  #parser!: Parser;
  #last: Packet | undefined;
  #error: Error | undefined;

  constructor() {
    this.#renew();
  }

  #renew(): void {
    this.#parser = mqttPacket.parser() as Parser;
    this.#parser.on('packet', (p: Packet) => {
      this.#last = p;
    });
    this.#parser.on('error', (e: Error) => {
      this.#error = e;
    });
  }

  parse(bytes: Buffer, version: number): { packet?: Packet; error?: Error } {
    this.#last = undefined;
    this.#error = undefined;
    // A CONNECT sets the level itself; other packets are read at the connection's level.
    this.#parser.settings = { protocolVersion: version || 4 };
    this.#parser.parse(bytes);
    const packet = this.#last as Packet | undefined;
    const error = this.#error as Error | undefined;
    // Anything but exactly one packet leaves state behind: start afresh for the next frame.
    if (error || !packet) this.#renew();
    const out: { packet?: Packet; error?: Error } = {};
    if (packet) out.packet = packet;
    if (error) out.error = error;
    return out;
  }
}

const shared = new SharedParser();

/**
 * Per-connection decoder: frames the stream, runs the strict checks, then lets mqtt-packet
 * build the packet object. Every failure surfaces as an `MqttProtocolError`; nothing else throws.
 */
export class PacketDecoder {
  #frames: FrameReader;
  #version = 0;

  constructor(maxPacketSize: number) {
    this.#frames = new FrameReader(maxPacketSize);
  }

  /**
   * Decodes every complete packet in `chunk`. Packets decoded before a bad one are returned in
   * `packets`; the failure, if any, in `error` so the caller handles them in order.
   */
  push(chunk: Buffer): { packets: Decoded[]; error?: MqttProtocolError } {
    const packets: Decoded[] = [];
    let frames: Frame[];
    try {
      frames = this.#frames.push(chunk);
    } catch (e) {
      return { packets, error: asProtocolError(e) };
    }
    for (const frame of frames) {
      try {
        packets.push(this.#decode(frame));
      } catch (e) {
        return { packets, error: asProtocolError(e) };
      }
    }
    return { packets };
  }

  /** Frames are handed over one at a time, so a "too large" on the 2nd never hides the 1st. */
  #decode(frame: Frame): Decoded {
    const info = strictCheck(frame, this.#version);
    const ack = info.ack;
    if (ack && this.#version !== 0) {
      const cmd = (['puback', 'pubrec', 'pubrel', 'pubcomp'] as const)[(frame.header >> 4) - 4]!;
      const packet = { cmd, messageId: ack.messageId, reasonCode: ack.reasonCode } as Packet;
      return { packet, info, size: frame.bytes.length };
    }
    const publish = info.publish;
    if (publish && this.#version !== 0) {
      // The hottest packet is built from the strict pass alone: one walk over its bytes.
      const flags = frame.header & 0x0f;
      const packet = {
        cmd: 'publish',
        topic: publish.topic,
        payload: frame.bytes.subarray(publish.payloadOffset),
        qos: (flags >> 1) & 3,
        dup: (flags & 0x08) !== 0,
        retain: (flags & 0x01) !== 0,
        length: frame.bytes.length - frame.bodyOffset,
      } as Packet & { messageId?: number; properties?: Record<string, unknown> };
      if (publish.messageId !== undefined) packet.messageId = publish.messageId;
      for (const _ in publish.properties) {
        packet.properties = publish.properties;
        break;
      }
      return { packet, info, size: frame.bytes.length };
    }
    const { packet: parsed, error } = shared.parse(frame.bytes, this.#version);
    if (error) {
      const message = error.message;
      if (/protocol version|protocolId/i.test(message)) {
        // [MQTT-3.1.2-2] unsupported protocol level: CONNACK 0x84 (or 0x01) then close.
        throw new MqttProtocolError(ReasonCode.UnsupportedProtocolVersion, message);
      }
      throw malformed(message);
    }
    const packet = parsed;
    if (!packet) throw malformed('incomplete packet');
    // Later frames of the same chunk are checked against the level this CONNECT agrees.
    if (packet.cmd === 'connect' && this.#version === 0) {
      this.#version = packet.protocolVersion ?? 4;
    }
    return { packet, info, size: frame.bytes.length };
  }
}

function asProtocolError(e: unknown): MqttProtocolError {
  if (e instanceof MqttProtocolError) return e;
  return malformed(e instanceof Error ? e.message : String(e));
}
