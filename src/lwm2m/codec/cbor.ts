/**
 * A small CBOR (RFC 8949) reader and writer for SenML CBOR and LwM2M CBOR. Our own rather than
 * cbor-x because a codec must (a) never throw past its boundary nor allocate from an unchecked
 * length, (b) bound nesting, and (c) write the preferred serialisation byte for byte
 * (RFC 8949 §4.1: shortest integer head, shortest float that keeps the value) so that the spec
 * examples come out identical. The tests cross-check every vector against cbor-x.
 */
import { ByteReader, decodeUtf8 } from './byte-reader.js';
import { CodecError } from './codec-error.js';

/** A tag (RFC 8949 §3.4) kept as read; no LwM2M format uses tags, so consumers reject it. */
export class CborTag {
  constructor(
    readonly tag: number | bigint,
    readonly value: CborValue,
  ) {}
}

/** A number that must be written as a float even when it has no fraction. */
export class CborFloat {
  constructor(readonly value: number) {}
}

export type CborValue =
  | number
  | bigint
  | string
  | Uint8Array
  | boolean
  | null
  | undefined
  | CborValue[]
  | Map<CborValue, CborValue>
  | CborTag
  | CborFloat;

export interface CborReadOptions {
  /** Deepest nesting of arrays, maps and tags (default 16). */
  readonly maxDepth?: number;
  /** Return floats as CborFloat, so that 22.0 stays a float rather than an integer. */
  readonly wrapFloats?: boolean;
}

const BREAK = Symbol('break');

function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

class Reader {
  constructor(
    readonly r: ByteReader,
    readonly maxDepth: number,
    readonly wrapFloats: boolean,
  ) {}

  float(v: number): CborValue {
    return this.wrapFloats ? new CborFloat(v) : v;
  }

  /** RFC 8949 §3: the argument of a head; 8-byte arguments come back as bigint past 2^53. */
  argument(info: number): number | bigint | null {
    if (info < 24) return info;
    if (info === 24) return this.r.u8('CBOR argument');
    if (info === 25) return this.r.uint(2, 'CBOR argument');
    if (info === 26) return this.r.uint(4, 'CBOR argument');
    if (info === 27) {
      const v = this.r.bigUint(8, 'CBOR argument');
      return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    }
    if (info === 31) return null; // indefinite length
    // RFC 8949 §3: additional information 28..30 is reserved.
    throw new CodecError('MALFORMED', `CBOR reserved additional information ${info}`);
  }

  length(arg: number | bigint, what: string): number {
    // A length past 2^53 cannot fit in any buffer: it points beyond the payload.
    if (typeof arg === 'bigint' || arg > this.r.remaining) {
      if (what === 'array' || what === 'map') {
        // Items are read one by one, each at least one byte: the truncation shows there.
        if (typeof arg === 'bigint') {
          throw new CodecError('LENGTH_OUT_OF_BOUNDS', `CBOR ${what} of ${arg} items`);
        }
        return arg;
      }
      throw new CodecError('LENGTH_OUT_OF_BOUNDS', `CBOR ${what} of ${arg} bytes`);
    }
    return arg;
  }

  item(depth: number): CborValue | typeof BREAK {
    const head = this.r.u8('CBOR head');
    const major = head >> 5;
    const info = head & 0x1f;
    if (major === 7) return this.simple(info);
    const arg = this.argument(info);
    switch (major) {
      case 0:
        if (arg === null) throw new CodecError('MALFORMED', 'CBOR indefinite integer');
        return arg;
      case 1: {
        if (arg === null) throw new CodecError('MALFORMED', 'CBOR indefinite integer');
        const v = -1n - BigInt(arg);
        return v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
      }
      case 2:
      case 3: {
        const bytes = arg === null ? this.chunks(major) : this.r.bytes(this.length(arg, 'string'));
        return major === 2 ? Buffer.from(bytes) : decodeUtf8(bytes, 'CBOR text string');
      }
      case 4: {
        this.deeper(depth);
        const out: CborValue[] = [];
        if (arg === null) {
          for (;;) {
            const v = this.item(depth + 1);
            if (v === BREAK) return out;
            out.push(v);
          }
        }
        const n = this.length(arg, 'array');
        for (let i = 0; i < n; i++) out.push(this.value(depth + 1));
        return out;
      }
      case 5: {
        this.deeper(depth);
        const out = new Map<CborValue, CborValue>();
        const n = arg === null ? Number.POSITIVE_INFINITY : this.length(arg, 'map');
        for (let i = 0; i < n; i++) {
          const k = this.item(depth + 1);
          if (k === BREAK) {
            if (arg === null) return out;
            throw new CodecError('MALFORMED', 'CBOR break inside a definite map');
          }
          // Integer and text keys (SenML), or arrays of integers (LwM2M CBOR path fragments).
          if (
            typeof k !== 'number' &&
            typeof k !== 'string' &&
            typeof k !== 'bigint' &&
            !Array.isArray(k)
          ) {
            throw new CodecError('TYPE_MISMATCH', 'CBOR map key is not an integer, text or array');
          }
          // RFC 8949 §5.6: duplicate keys make a map invalid (array keys are checked by the
          // format that uses them, by the path they spell).
          if (out.has(k)) throw new CodecError('MALFORMED', `CBOR map key ${String(k)} twice`);
          out.set(k, this.value(depth + 1));
        }
        return out;
      }
      default: {
        // major 6: a tag.
        this.deeper(depth);
        if (arg === null) throw new CodecError('MALFORMED', 'CBOR indefinite tag');
        return new CborTag(arg, this.value(depth + 1));
      }
    }
  }

  value(depth: number): CborValue {
    const v = this.item(depth);
    if (v === BREAK) throw new CodecError('MALFORMED', 'CBOR break outside an indefinite item');
    return v;
  }

  deeper(depth: number): void {
    if (depth >= this.maxDepth) {
      throw new CodecError('NESTING_TOO_DEEP', `CBOR nested deeper than ${this.maxDepth}`);
    }
  }

  chunks(major: number): Uint8Array {
    // RFC 8949 §3.2.3: an indefinite string is definite chunks of the same major type.
    const parts: Uint8Array[] = [];
    for (;;) {
      const head = this.r.u8('CBOR chunk');
      if (head === 0xff) return Buffer.concat(parts);
      if (head >> 5 !== major || (head & 0x1f) === 31) {
        throw new CodecError('MALFORMED', 'CBOR indefinite string with a foreign chunk');
      }
      const arg = this.argument(head & 0x1f)!;
      parts.push(this.r.bytes(this.length(arg, 'string')));
    }
  }

  simple(info: number): CborValue | typeof BREAK {
    switch (info) {
      case 20:
        return false;
      case 21:
        return true;
      case 22:
        return null;
      case 23:
        return undefined;
      case 25:
        return this.float(halfToNumber(this.r.uint(2, 'CBOR half float')));
      case 26: {
        const b = this.r.bytes(4, 'CBOR float');
        return this.float(new DataView(b.buffer, b.byteOffset, 4).getFloat32(0));
      }
      case 27: {
        const b = this.r.bytes(8, 'CBOR double');
        return this.float(new DataView(b.buffer, b.byteOffset, 8).getFloat64(0));
      }
      case 31:
        return BREAK;
      default:
        // RFC 8949 §3.3: other simple values are unassigned; 24 with a value < 32 is invalid.
        throw new CodecError('TYPE_MISMATCH', `CBOR simple value ${info} is not used here`);
    }
  }
}

/** Reads exactly one CBOR data item filling `bytes`. Throws only CodecError. */
export function readCbor(bytes: Uint8Array, options: CborReadOptions = {}): CborValue {
  const r = new ByteReader(bytes);
  const value = new Reader(r, options.maxDepth ?? 16, options.wrapFloats ?? false).value(0);
  if (!r.done) throw new CodecError('TRAILING_BYTES', `${r.remaining} byte(s) after the CBOR item`);
  return value;
}

// ---------------------------------------------------------------------------------------------

function numberToHalf(v: number): number | undefined {
  // Returns the binary16 bits of v when binary16 holds v exactly (RFC 8949 §4.2.2).
  if (Number.isNaN(v)) return 0x7e00;
  if (v === Number.POSITIVE_INFINITY) return 0x7c00;
  if (v === Number.NEGATIVE_INFINITY) return 0xfc00;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a === 0) return sign;
  const exp = Math.floor(Math.log2(a));
  if (exp < -24 || exp > 15) return undefined;
  if (exp < -14) {
    const frac = a / 2 ** -24;
    return Number.isInteger(frac) ? sign | frac : undefined;
  }
  const frac = (a / 2 ** exp - 1) * 1024;
  if (!Number.isInteger(frac) || frac >= 1024) return undefined;
  return sign | ((exp + 15) << 10) | frac;
}

class Writer {
  readonly parts: Buffer[] = [];

  head(major: number, arg: number | bigint): void {
    const m = major << 5;
    if (typeof arg === 'bigint' && arg <= BigInt(Number.MAX_SAFE_INTEGER)) arg = Number(arg);
    if (typeof arg === 'bigint') {
      if (arg >= 2n ** 64n) throw new CodecError('VALUE_OUT_OF_RANGE', `${arg} exceeds 64 bits`);
      const b = Buffer.alloc(9);
      b[0] = m | 27;
      b.writeBigUInt64BE(arg, 1);
      this.parts.push(b);
    } else if (arg < 24) this.parts.push(Buffer.from([m | arg]));
    else if (arg < 0x100) this.parts.push(Buffer.from([m | 24, arg]));
    else if (arg < 0x10000) {
      const b = Buffer.alloc(3);
      b[0] = m | 25;
      b.writeUInt16BE(arg, 1);
      this.parts.push(b);
    } else if (arg < 0x100000000) {
      const b = Buffer.alloc(5);
      b[0] = m | 26;
      b.writeUInt32BE(arg, 1);
      this.parts.push(b);
    } else {
      const b = Buffer.alloc(9);
      b[0] = m | 27;
      b.writeBigUInt64BE(BigInt(arg), 1);
      this.parts.push(b);
    }
  }

  float(v: number): void {
    // RFC 8949 §4.2.2: the shortest of binary16, binary32, binary64 that keeps the value.
    const half = numberToHalf(v);
    if (half !== undefined) {
      const b = Buffer.alloc(3);
      b[0] = 0xf9;
      b.writeUInt16BE(half, 1);
      this.parts.push(b);
    } else if (Math.fround(v) === v) {
      const b = Buffer.alloc(5);
      b[0] = 0xfa;
      b.writeFloatBE(v, 1);
      this.parts.push(b);
    } else {
      const b = Buffer.alloc(9);
      b[0] = 0xfb;
      b.writeDoubleBE(v, 1);
      this.parts.push(b);
    }
  }

  write(v: CborValue): void {
    if (v === null) this.parts.push(Buffer.from([0xf6]));
    else if (v === undefined) this.parts.push(Buffer.from([0xf7]));
    else if (typeof v === 'boolean') this.parts.push(Buffer.from([v ? 0xf5 : 0xf4]));
    else if (typeof v === 'number') {
      // RFC 8949 §4.2.1: an integral number is written as an integer.
      if (Number.isSafeInteger(v) && !Object.is(v, -0)) {
        if (v >= 0) this.head(0, v);
        else this.head(1, -1 - v);
      } else this.float(v);
    } else if (typeof v === 'bigint') {
      if (v >= 0n) this.head(0, v);
      else {
        if (v < -(2n ** 64n)) throw new CodecError('VALUE_OUT_OF_RANGE', `${v} exceeds 64 bits`);
        this.head(1, -1n - v);
      }
    } else if (typeof v === 'string') {
      const b = Buffer.from(v, 'utf8');
      this.head(3, b.length);
      this.parts.push(b);
    } else if (v instanceof Uint8Array) {
      this.head(2, v.length);
      this.parts.push(Buffer.from(v));
    } else if (Array.isArray(v)) {
      this.head(4, v.length);
      for (const x of v) this.write(x);
    } else if (v instanceof Map) {
      this.head(5, v.size);
      for (const [k, x] of v) {
        this.write(k);
        this.write(x);
      }
    } else if (v instanceof CborFloat) {
      this.float(v.value);
    } else {
      this.head(6, v.tag);
      this.write(v.value);
    }
  }
}

/** Writes one CBOR data item in preferred serialisation; map entries in insertion order. */
export function writeCbor(value: CborValue): Buffer {
  const w = new Writer();
  w.write(value);
  return Buffer.concat(w.parts);
}
