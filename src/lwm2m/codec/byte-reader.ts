import { CodecError } from './codec-error.js';

/**
 * A cursor over a byte buffer that checks every read against the end it was given and throws
 * CodecError('TRUNCATED') instead of reading past it. Sub-readers share the buffer and stop at
 * their own end, so a length field can never reach outside its container.
 */
export class ByteReader {
  #offset: number;
  readonly #end: number;

  constructor(
    readonly buffer: Uint8Array,
    start = 0,
    end = buffer.length,
  ) {
    this.#offset = start;
    this.#end = end;
  }

  get offset(): number {
    return this.#offset;
  }

  get remaining(): number {
    return this.#end - this.#offset;
  }

  get done(): boolean {
    return this.#offset >= this.#end;
  }

  #need(n: number, what: string): void {
    if (n > this.#end - this.#offset) {
      throw new CodecError(
        'TRUNCATED',
        `${what}: needs ${n} byte(s) at offset ${this.#offset}, ${this.remaining} left`,
      );
    }
  }

  u8(what = 'byte'): number {
    this.#need(1, what);
    return this.buffer[this.#offset++]!;
  }

  /** An unsigned big-endian integer of 1..6 bytes. */
  uint(n: number, what = 'integer'): number {
    this.#need(n, what);
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 256 + this.buffer[this.#offset++]!;
    return v;
  }

  /** An unsigned big-endian integer of 1..8 bytes, as a bigint. */
  bigUint(n: number, what = 'integer'): bigint {
    this.#need(n, what);
    let v = 0n;
    for (let i = 0; i < n; i++) v = (v << 8n) | BigInt(this.buffer[this.#offset++]!);
    return v;
  }

  /** `n` bytes as a view (no copy); the caller copies if it keeps them. */
  bytes(n: number, what = 'bytes'): Uint8Array {
    this.#need(n, what);
    const out = this.buffer.subarray(this.#offset, this.#offset + n);
    this.#offset += n;
    return out;
  }

  /** A reader over the next `n` bytes; this reader skips past them. */
  sub(n: number, what = 'container'): ByteReader {
    if (n > this.remaining) {
      throw new CodecError(
        'LENGTH_OUT_OF_BOUNDS',
        `${what}: length ${n} at offset ${this.#offset} exceeds the ${this.remaining} byte(s) left`,
      );
    }
    const r = new ByteReader(this.buffer, this.#offset, this.#offset + n);
    this.#offset += n;
    return r;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Short ASCII strings (most resource values) skip the TextDecoder call. */
const ASCII_FAST_PATH = 32;

/**
 * Decodes UTF-8, rejecting invalid sequences (RFC 3629) with CodecError('INVALID_UTF8'). `what`
 * names the value in that error (a path's text is only built then).
 */
export function decodeUtf8(
  bytes: Uint8Array,
  what: string | { toString(): string } = 'string',
): string {
  if (bytes.length <= ASCII_FAST_PATH) {
    let ascii = true;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i]! > 0x7f) {
        ascii = false;
        break;
      }
    }
    // ASCII is valid UTF-8 with one byte per character (RFC 3629 §3).
    if (ascii) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  }
  try {
    return utf8.decode(bytes);
  } catch {
    throw new CodecError('INVALID_UTF8', `${what} is not valid UTF-8`);
  }
}
