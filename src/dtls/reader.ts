import { DtlsError } from './errors.js';

/**
 * A bounds-checked cursor over received bytes. Every read checks the remaining length first and
 * throws a `DtlsError('decode_error')`, which the parse entry points catch: no length from the
 * network is trusted and nothing is allocated from an unchecked length (RFC 5246 §7.2.2).
 */
export class ByteReader {
  #buf: Buffer;
  #pos: number;
  #end: number;

  constructor(buf: Buffer, start = 0, end = buf.length) {
    this.#buf = buf;
    this.#pos = start;
    this.#end = end;
  }

  get offset(): number {
    return this.#pos;
  }

  get remaining(): number {
    return this.#end - this.#pos;
  }

  #need(n: number): void {
    if (n > this.#end - this.#pos) throw new DtlsError('decode_error', 'truncated message');
  }

  u8(): number {
    this.#need(1);
    return this.#buf[this.#pos++]!;
  }

  u16(): number {
    this.#need(2);
    const v = this.#buf.readUInt16BE(this.#pos);
    this.#pos += 2;
    return v;
  }

  u24(): number {
    this.#need(3);
    const v = this.#buf.readUIntBE(this.#pos, 3);
    this.#pos += 3;
    return v;
  }

  u48(): number {
    this.#need(6);
    const v = this.#buf.readUIntBE(this.#pos, 6);
    this.#pos += 6;
    return v;
  }

  /** `n` bytes, as a view on the received buffer. */
  bytes(n: number): Buffer {
    this.#need(n);
    const v = this.#buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return v;
  }

  /** RFC 5246 §4.3: a vector with a 1-byte length. */
  vec8(min = 0, max = 0xff): Buffer {
    return this.#bounded(this.u8(), min, max);
  }

  vec16(min = 0, max = 0xffff): Buffer {
    return this.#bounded(this.u16(), min, max);
  }

  vec24(min = 0, max = 0xffffff): Buffer {
    return this.#bounded(this.u24(), min, max);
  }

  #bounded(n: number, min: number, max: number): Buffer {
    if (n < min || n > max) throw new DtlsError('decode_error', 'vector length out of range');
    return this.bytes(n);
  }

  /** The rest of the input. */
  rest(): Buffer {
    return this.bytes(this.remaining);
  }

  /** RFC 5246 §7.4: trailing bytes after a message are a decode error. */
  end(): void {
    if (this.remaining !== 0) throw new DtlsError('decode_error', 'trailing bytes');
  }
}
