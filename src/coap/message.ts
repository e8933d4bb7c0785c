/**
 * The CoAP message (RFC 7252 §3) and its codec. Decoding is our own single bounds-checked pass
 * (every datagram takes it, and `coap-packet`'s parser accepts tokens up to 65804 bytes (RFC
 * 8974), reads past the end on a truncated option and takes a payload marker with nothing after
 * it for an empty payload); encoding goes through `coap-packet`, except for Empty messages.
 */
import { generate } from 'coap-packet';
import { codeString } from './code.js';
import { CoapFormatError } from './errors.js';
import type { CoapOption } from './option.js';

export const MessageType = { Con: 0, Non: 1, Ack: 2, Rst: 3 } as const;
export type MessageTypeNumber = (typeof MessageType)[keyof typeof MessageType];

const typeNames = ['CON', 'NON', 'ACK', 'RST'] as const;

export interface CoapMessage {
  readonly type: MessageTypeNumber;
  /** Code byte, `class << 5 | detail` (see `Code`). */
  readonly code: number;
  readonly messageId: number;
  readonly token: Buffer;
  /** Options in wire order (sorted by number, repeated ones in their order). */
  readonly options: readonly CoapOption[];
  readonly payload: Buffer;
}

export type DecodeResult =
  | { readonly ok: true; readonly message: CoapMessage }
  | { readonly ok: false; readonly error: CoapFormatError };

const EMPTY: Buffer = Buffer.alloc(0);
/** RFC 7252 §3: the Token is 0 to 8 bytes long; 9 to 15 are reserved. */
export const MAX_TOKEN_LENGTH = 8;
const MAX_OPTION_NUMBER = 0xffff;

/**
 * Decodes one datagram in one bounds-checked pass. Never throws: a malformed datagram comes back
 * as a `CoapFormatError` with the header fields that could be read. The token, option values
 * and payload are views of `data`, not copies: transports hand over a datagram they no longer
 * use (node:dgram and the DTLS record layer allocate one per datagram).
 */
export function decodeMessage(data: Uint8Array): DecodeResult {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length);
  if (buf.length < 4) return fail('datagram shorter than the 4-byte CoAP header', {});
  const b0 = buf[0]!;
  const type = ((b0 >> 4) & 3) as MessageTypeNumber;
  const messageId = (buf[2]! << 8) | buf[3]!;
  // RFC 7252 §3: messages with an unknown version number MUST be silently ignored.
  if (b0 >> 6 !== 1) return fail('unknown CoAP version', { messageId, type, silent: true });
  const tkl = b0 & 0x0f;
  // RFC 7252 §3: token lengths 9-15 are reserved and MUST be processed as a message format error.
  if (tkl > MAX_TOKEN_LENGTH) return fail(`token length ${tkl}`, { messageId, type });
  const code = buf[1]!;
  if (code === 0) {
    // RFC 7252 §4.1: an Empty message has TKL 0 and nothing after the Message ID.
    if (buf.length !== 4)
      return fail('empty message with bytes after the header', { messageId, type });
    return {
      ok: true,
      message: { type, code, messageId, token: EMPTY, options: [], payload: EMPTY },
    };
  }
  if (buf.length < 4 + tkl) return fail('datagram shorter than its token', { messageId, type });
  const token = tkl === 0 ? EMPTY : buf.subarray(4, 4 + tkl);
  const options: CoapOption[] = [];
  let payload = EMPTY;
  let i = 4 + tkl;
  let number = 0;
  while (i < buf.length) {
    const byte = buf[i]!;
    if (byte === 0xff) {
      // RFC 7252 §3: a payload marker followed by a zero-length payload is a format error.
      if (i + 1 >= buf.length)
        return fail('payload marker with an empty payload', { messageId, type, token });
      payload = buf.subarray(i + 1);
      break;
    }
    i++;
    let delta = byte >> 4;
    let length = byte & 0x0f;
    // RFC 7252 §3.1: nibble 15 is reserved for the payload marker (delta) and is an error (length).
    if (delta === 15) return fail('option delta 15', { messageId, type, token });
    if (length === 15) return fail('option length 15', { messageId, type, token });
    if (delta === 13) {
      if (i + 1 > buf.length) return fail('truncated option delta', { messageId, type, token });
      delta = buf[i]! + 13;
      i += 1;
    } else if (delta === 14) {
      if (i + 2 > buf.length) return fail('truncated option delta', { messageId, type, token });
      delta = ((buf[i]! << 8) | buf[i + 1]!) + 269;
      i += 2;
    }
    if (length === 13) {
      if (i + 1 > buf.length) return fail('truncated option length', { messageId, type, token });
      length = buf[i]! + 13;
      i += 1;
    } else if (length === 14) {
      if (i + 2 > buf.length) return fail('truncated option length', { messageId, type, token });
      length = ((buf[i]! << 8) | buf[i + 1]!) + 269;
      i += 2;
    }
    number += delta;
    if (number > MAX_OPTION_NUMBER)
      return fail('option number above 65535', { messageId, type, token });
    if (i + length > buf.length)
      return fail('option value past the end of the datagram', { messageId, type, token });
    options.push({ number, value: buf.subarray(i, i + length) });
    i += length;
  }
  return { ok: true, message: { type, code, messageId, token, options, payload } };
}

function fail(
  reason: string,
  header: { messageId?: number; type?: number; token?: Buffer; silent?: boolean },
): DecodeResult {
  return { ok: false, error: new CoapFormatError(reason, header) };
}

/** Encodes a message; throws `RangeError` on values no CoAP message can carry (a bug of ours). */
export function encodeMessage(message: CoapMessage): Buffer {
  if (message.token.length > MAX_TOKEN_LENGTH) throw new RangeError('token longer than 8 bytes');
  if (!Number.isInteger(message.messageId) || message.messageId < 0 || message.messageId > 0xffff) {
    throw new RangeError(`message ID out of range: ${message.messageId}`);
  }
  // RFC 7252 §4.1: an Empty message is the 4-byte header alone, whatever else it holds.
  if (message.code === 0) return encodeEmpty(message.type, message.messageId);
  return generate(
    {
      confirmable: message.type === MessageType.Con,
      ack: message.type === MessageType.Ack,
      reset: message.type === MessageType.Rst,
      code: codeString(message.code),
      messageId: message.messageId,
      token: message.token,
      options: message.options.map((o) => ({ name: o.number, value: o.value })),
      payload: message.payload,
    },
    0xffff,
  );
}

/**
 * The 4 bytes of an Empty message (RFC 7252 §3, §4.1): version 1, the type, TKL 0, code 0.00
 * and the message ID; nothing else. Empty ACKs go out for every CON notification.
 */
export function encodeEmpty(type: MessageTypeNumber, messageId: number): Buffer {
  const data = Buffer.allocUnsafe(4);
  data[0] = 0x40 | (type << 4);
  data[1] = 0;
  data[2] = messageId >> 8;
  data[3] = messageId & 0xff;
  return data;
}

/** An Empty message (RFC 7252 §4.1): an empty ACK, an RST, or a ping (empty CON). */
export function emptyMessage(type: MessageTypeNumber, messageId: number): CoapMessage {
  return { type, code: 0, messageId, token: EMPTY, options: [], payload: EMPTY };
}

/** One-line description for logs: `CON 0.01 mid=1 token=ab /rd`. */
export function describeMessage(m: CoapMessage): string {
  const path = m.options
    .filter((o) => o.number === 11)
    .map((o) => o.value.toString('utf8'))
    .join('/');
  return `${typeNames[m.type]} ${codeString(m.code)} mid=${m.messageId} token=${m.token.toString('hex')}${path ? ` /${path}` : ''}`;
}
