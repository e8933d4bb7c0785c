import { DtlsError } from '../errors.js';
import { ByteReader } from '../reader.js';
import { ByteWriter } from '../writer.js';

/** RFC 5246 §7.4.1.4: struct { ExtensionType extension_type; opaque extension_data<0..2^16-1>; }. */
export interface Extension {
  type: number;
  data: Buffer;
}

/** Reads the optional extensions block that ends a hello (RFC 5246 §7.4.1.2). */
export function readExtensions(r: ByteReader): Extension[] {
  if (r.remaining === 0) return [];
  const block = new ByteReader(r.vec16());
  const out: Extension[] = [];
  const seen = new Set<number>();
  while (block.remaining > 0) {
    const type = block.u16();
    const data = block.vec16();
    // RFC 5246 §7.4.1.4: there MUST NOT be more than one extension of the same type.
    if (seen.has(type)) throw new DtlsError('decode_error', `duplicate extension ${type}`);
    seen.add(type);
    out.push({ type, data });
  }
  return out;
}

export function writeExtensions(w: ByteWriter, extensions: Extension[]): void {
  if (extensions.length === 0) return;
  const block = new ByteWriter();
  for (const e of extensions) block.u16(e.type).vec16(e.data);
  w.vec16(block.finish());
}

export function findExtension(extensions: Extension[], type: number): Buffer | undefined {
  return extensions.find((e) => e.type === type)?.data;
}

/** A list of uint16 in a vector with a 2-byte length (supported_groups, signature_algorithms). */
export function parseU16List(data: Buffer): number[] {
  const r = new ByteReader(data);
  const list = new ByteReader(r.vec16(2));
  r.end();
  const out: number[] = [];
  while (list.remaining >= 2) out.push(list.u16());
  list.end();
  return out;
}

export function u16List(values: number[]): Buffer {
  const inner = new ByteWriter();
  for (const v of values) inner.u16(v);
  return new ByteWriter().vec16(inner.finish()).finish();
}

/** A list of uint8 with a 1-byte length (ec_point_formats, RFC 7250 client cert types). */
export function parseU8List(data: Buffer): number[] {
  const r = new ByteReader(data);
  const list = r.vec8(1);
  r.end();
  return [...list];
}

export function u8List(values: number[]): Buffer {
  return new ByteWriter().vec8(Buffer.from(values)).finish();
}
