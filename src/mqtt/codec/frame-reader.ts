import { MqttProtocolError, malformed } from '../errors.js';
import { ReasonCode } from '../reason-codes.js';

/** One complete MQTT control packet: its first byte and the bytes of the whole frame. */
export interface Frame {
  /** Packet type in the high nibble, flags in the low nibble (MQTT 5.0 §2.1.1). */
  header: number;
  /** Offset in `bytes` where the variable header starts. */
  bodyOffset: number;
  /** The whole packet, fixed header included. */
  bytes: Buffer;
}

/**
 * Cuts a byte stream into MQTT frames. The remaining length is checked against the limit before
 * any of the packet is buffered, so a peer never makes us allocate from an unchecked length.
 */
export class FrameReader {
  /** Bytes received and not yet framed; none (no array) between packets. */
  #chunks: Buffer[] | undefined;
  #buffered = 0;
  #maxPacketSize: number;

  constructor(maxPacketSize: number) {
    this.#maxPacketSize = maxPacketSize;
  }

  /** Adds bytes and returns every frame now complete. Throws `MqttProtocolError` on a bad header. */
  push(chunk: Buffer): Frame[] {
    if (chunk.length > 0) {
      this.#chunks ??= [];
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    const frames: Frame[] = [];
    for (;;) {
      const frame = this.#next();
      if (!frame) return frames;
      frames.push(frame);
    }
  }

  #next(): Frame | undefined {
    const chunks = this.#chunks;
    if (!chunks || this.#buffered < 2) return undefined;
    let buf = chunks[0]!;
    if (buf.length < 5 && chunks.length > 1) {
      buf = this.#coalesce();
    }
    let value = 0;
    let multiplier = 1;
    let pos = 1;
    for (;;) {
      if (pos >= buf.length) return undefined; // remaining length not complete yet
      const byte = buf[pos++]!;
      value += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) break;
      // MQTT 5.0 §1.5.5: a Variable Byte Integer uses at most four bytes.
      if (pos === 5) throw malformed('remaining length longer than four bytes');
      multiplier *= 128;
    }
    const total = pos + value;
    if (total > this.#maxPacketSize) {
      // [MQTT-3.1.2-24] (server side): packets beyond our Maximum Packet Size are refused.
      const err = new MqttProtocolError(ReasonCode.PacketTooLarge, `packet of ${total} bytes`);
      // A CONNECT this large still gets a CONNACK in its own protocol level when we can see it.
      if (buf[0]! >> 4 === 1 && buf.length > pos + 6) err.connectVersion = buf[pos + 6]!;
      throw err;
    }
    if (this.#buffered < total) return undefined;
    if (buf.length < total) buf = this.#coalesce();
    const bytes = buf.subarray(0, total);
    this.#buffered -= total;
    if (this.#buffered === 0) {
      this.#chunks = undefined;
    } else if (buf.length === total) {
      this.#chunks!.shift();
    } else {
      this.#chunks![0] = buf.subarray(total);
    }
    return { header: bytes[0]!, bodyOffset: pos, bytes };
  }

  #coalesce(): Buffer {
    const all = Buffer.concat(this.#chunks!, this.#buffered);
    this.#chunks = [all];
    return all;
  }
}
