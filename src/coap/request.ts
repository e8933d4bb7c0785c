/**
 * The request and response shapes that the endpoint hands to its users, and the conversion from
 * and to wire messages.
 */
import type { DatagramPeer } from '../transport/datagram.js';
import type { CoapMessage } from './message.js';
import {
  type CoapOption,
  getOption,
  getStringOptions,
  getUintOption,
  OptionNumber,
  pathSegments,
  sortOptions,
  stringOption,
  uintOption,
  withoutOptions,
} from './option.js';

/** A request received by the endpoint, after block-wise reassembly. */
export interface CoapRequest {
  /** Method code (`Code.Get`...). */
  readonly method: number;
  /** Uri-Path segments, decoded. */
  readonly path: readonly string[];
  /** Uri-Query items, decoded (`ep=node1`). */
  readonly query: readonly string[];
  readonly options: readonly CoapOption[];
  readonly payload: Buffer;
  readonly contentFormat: number | undefined;
  readonly accept: number | undefined;
  /** Observe option value (0 register, 1 deregister, RFC 7641 §2). */
  readonly observe: number | undefined;
  readonly confirmable: boolean;
  readonly token: Buffer;
  readonly messageId: number;
}

/** What a handler returns; the endpoint adds token, message ID, type and block options. */
export interface OutgoingResponse {
  readonly code: number;
  readonly payload?: Buffer | string;
  readonly contentFormat?: number;
  readonly locationPath?: string | readonly string[];
  readonly locationQuery?: readonly string[];
  readonly maxAge?: number;
  readonly etag?: Buffer;
  /** Further options; they must not repeat the ones given above. */
  readonly options?: readonly CoapOption[];
}

/** A response received by the endpoint (after block-wise reassembly). */
export interface CoapResponse {
  readonly code: number;
  readonly payload: Buffer;
  readonly options: readonly CoapOption[];
  readonly contentFormat: number | undefined;
  readonly observe: number | undefined;
  readonly locationPath: readonly string[];
  readonly locationQuery: readonly string[];
  readonly maxAge: number | undefined;
  readonly etag: Buffer | undefined;
  readonly peer: DatagramPeer;
}

/** Answers one request; may be slow (the endpoint then sends a separate response). */
export type RequestHandler = (
  request: CoapRequest,
  peer: DatagramPeer,
) => Promise<OutgoingResponse> | OutgoingResponse;

/** What `endpoint.request()` sends. */
export interface RequestParams {
  readonly code: number;
  /** `'/3/0/1'` or `['3', '0', '1']`. */
  readonly path?: string | readonly string[];
  readonly query?: readonly string[];
  readonly options?: readonly CoapOption[];
  readonly payload?: Buffer | string;
  readonly contentFormat?: number;
  readonly accept?: number;
  /** Default true (RFC 7252 §2.2). */
  readonly confirmable?: boolean;
  /** Overall time to wait for the response, default MAX_TRANSMIT_WAIT (93 s). */
  readonly timeoutMs?: number;
  /**
   * Block size for Block1 and, as early negotiation (RFC 7959 §2.4), Block2: 16 to 1024.
   * Default: the endpoint's `blockSize`.
   */
  readonly blockSize?: number;
  /** Set a Block2 option in the first request (RFC 7959 §2.4 early negotiation). */
  readonly earlyBlock2?: boolean;
}

/**
 * Key of an exchange or observation: the peer and the token (RFC 7252 §5.3.2), the token's
 * bytes as latin1 characters (one per byte, so distinct tokens give distinct keys).
 */
export const tokenKey = (peerKey: string, token: Buffer): string =>
  `${peerKey}|${token.toString('latin1')}`;

export function toBuffer(payload: Buffer | string | undefined): Buffer {
  if (payload === undefined) return Buffer.alloc(0);
  return typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
}

export function requestFromMessage(message: CoapMessage, payload = message.payload): CoapRequest {
  const o = message.options;
  return {
    method: message.code,
    path: getStringOptions(o, OptionNumber.UriPath),
    query: getStringOptions(o, OptionNumber.UriQuery),
    options: o,
    payload,
    contentFormat: getUintOption(o, OptionNumber.ContentFormat),
    accept: getUintOption(o, OptionNumber.Accept),
    observe: getUintOption(o, OptionNumber.Observe),
    confirmable: message.type === 0,
    token: message.token,
    messageId: message.messageId,
  };
}

export function responseFromMessage(
  message: CoapMessage,
  peer: DatagramPeer,
  payload = message.payload,
): CoapResponse {
  const o = message.options;
  return {
    code: message.code,
    payload,
    options: o,
    contentFormat: getUintOption(o, OptionNumber.ContentFormat),
    observe: getUintOption(o, OptionNumber.Observe),
    locationPath: stringsOrNone(o, OptionNumber.LocationPath),
    locationQuery: stringsOrNone(o, OptionNumber.LocationQuery),
    maxAge: getUintOption(o, OptionNumber.MaxAge),
    etag: getOption(o, OptionNumber.ETag),
    peer,
  };
}

const NONE: readonly string[] = Object.freeze([]);

/** The string options numbered `number`; one shared empty list for the usual none (responses). */
function stringsOrNone(options: readonly CoapOption[], number: number): readonly string[] {
  return getOption(options, number) === undefined ? NONE : getStringOptions(options, number);
}

/** Options of an outgoing request, sorted, without block options. */
export function requestOptions(params: RequestParams): CoapOption[] {
  const out: CoapOption[] = [...(params.options ?? [])];
  for (const seg of pathSegments(params.path)) out.push(stringOption(OptionNumber.UriPath, seg));
  for (const q of params.query ?? []) out.push(stringOption(OptionNumber.UriQuery, q));
  if (params.contentFormat !== undefined) {
    out.push(uintOption(OptionNumber.ContentFormat, params.contentFormat));
  }
  if (params.accept !== undefined) out.push(uintOption(OptionNumber.Accept, params.accept));
  return sortOptions(out);
}

/** Options of an outgoing response, sorted, without block options. */
export function responseOptions(response: OutgoingResponse): CoapOption[] {
  const out: CoapOption[] = [...(response.options ?? [])];
  if (response.etag) out.push({ number: OptionNumber.ETag, value: response.etag });
  for (const seg of pathSegments(response.locationPath)) {
    out.push(stringOption(OptionNumber.LocationPath, seg));
  }
  for (const q of response.locationQuery ?? []) {
    out.push(stringOption(OptionNumber.LocationQuery, q));
  }
  if (response.contentFormat !== undefined) {
    out.push(uintOption(OptionNumber.ContentFormat, response.contentFormat));
  }
  if (response.maxAge !== undefined) out.push(uintOption(OptionNumber.MaxAge, response.maxAge));
  return sortOptions(withoutOptions(out, OptionNumber.Block1, OptionNumber.Block2));
}

/**
 * Key of a block-wise transfer: peer, method and the request's options other than the block
 * ones, Size1/Size2 and Observe (RFC 7959 §2.4: not the token, which may change per block).
 */
export function transferKey(peerKey: string, message: CoapMessage): string {
  const parts = [peerKey, String(message.code)];
  for (const o of message.options) {
    if (
      o.number === OptionNumber.Block1 ||
      o.number === OptionNumber.Block2 ||
      o.number === OptionNumber.Size1 ||
      o.number === OptionNumber.Size2 ||
      o.number === OptionNumber.Observe ||
      o.number === OptionNumber.ContentFormat
    ) {
      continue;
    }
    parts.push(`${o.number}=${o.value.toString('hex')}`);
  }
  return parts.join('|');
}
