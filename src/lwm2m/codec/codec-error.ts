/**
 * The one error a codec lets out. `code` is stable (tests, metrics, logs match on it);
 * `coapCode` is the response the server answers a peer with (LwM2M-TS-Core 1.1 §6.4:
 * 4.00 Bad Request for a payload that does not decode, 4.06 Not Acceptable when the node
 * cannot be expressed in the requested format, 4.15 for a content format we do not decode).
 */
export const CODEC_ERRORS = {
  /** The payload ends before a length, header or value it announces. */
  TRUNCATED: '4.00',
  /** A length field points past the end of its container. */
  LENGTH_OUT_OF_BOUNDS: '4.00',
  /** Bytes left over after the payload's last element. */
  TRAILING_BYTES: '4.00',
  /** The payload is not well-formed in its format (bad JSON, reserved TLV bits, bad CBOR). */
  MALFORMED: '4.00',
  /** A text value is not valid UTF-8. */
  INVALID_UTF8: '4.00',
  /** Containers nested deeper than the format or our limit allows. */
  NESTING_TOO_DEEP: '4.00',
  /** A value does not have the type the model or the format requires. */
  TYPE_MISMATCH: '4.00',
  /** A numeric value or length is outside its type's range. */
  VALUE_OUT_OF_RANGE: '4.00',
  /** A path in the payload is malformed, or is not under the request's path. */
  INVALID_PATH: '4.00',
  /** The same path appears twice. */
  DUPLICATE_PATH: '4.00',
  /** The payload does not hold the kind of node the request's path calls for. */
  UNEXPECTED_NODE: '4.00',
  /** The payload or a declared count is bigger than our limits. */
  TOO_LARGE: '4.13',
  /** This content format cannot express this node (e.g. text/plain for an object instance). */
  NOT_ACCEPTABLE: '4.06',
  /** A content format we do not encode or decode. */
  UNSUPPORTED_FORMAT: '4.15',
} as const;

export type CodecErrorCode = keyof typeof CODEC_ERRORS;

export class CodecError extends Error {
  override readonly name = 'CodecError';
  /** The CoAP response code a server answers with, e.g. `4.00`. */
  readonly coapCode: (typeof CODEC_ERRORS)[CodecErrorCode];

  constructor(
    readonly code: CodecErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.coapCode = CODEC_ERRORS[code];
  }
}

/**
 * Runs a codec body and lets nothing but a CodecError out: any other exception (a bug, a
 * RangeError from a builder, a stack overflow) becomes `fallback` with the original as cause.
 * `what` names the payload in that error; a function is only called then (a path's text is
 * not built for every payload decoded).
 */
export function guard<T>(
  fallback: CodecErrorCode,
  what: string | (() => string),
  body: () => T,
): T {
  try {
    return body();
  } catch (e) {
    if (e instanceof CodecError) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    const name = typeof what === 'string' ? what : what();
    throw new CodecError(fallback, `${name}: ${msg}`, { cause: e });
  }
}
