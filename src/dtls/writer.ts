/** Builds a message from parts; lengths of vectors are written from the actual content. */
export class ByteWriter {
  #parts: Buffer[] = [];

  u8(v: number): this {
    this.#parts.push(Buffer.from([v & 0xff]));
    return this;
  }

  u16(v: number): this {
    const b = Buffer.allocUnsafe(2);
    b.writeUInt16BE(v & 0xffff);
    this.#parts.push(b);
    return this;
  }

  u24(v: number): this {
    const b = Buffer.allocUnsafe(3);
    b.writeUIntBE(v, 0, 3);
    this.#parts.push(b);
    return this;
  }

  u48(v: number): this {
    const b = Buffer.allocUnsafe(6);
    b.writeUIntBE(v, 0, 6);
    this.#parts.push(b);
    return this;
  }

  bytes(b: Uint8Array): this {
    this.#parts.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
    return this;
  }

  vec8(b: Uint8Array): this {
    return this.u8(b.length).bytes(b);
  }

  vec16(b: Uint8Array): this {
    return this.u16(b.length).bytes(b);
  }

  vec24(b: Uint8Array): this {
    return this.u24(b.length).bytes(b);
  }

  finish(): Buffer {
    return Buffer.concat(this.#parts);
  }
}
