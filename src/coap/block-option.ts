/**
 * The Block1/Block2 option value (RFC 7959 §2.2): NUM, M and SZX in 0 to 3 bytes.
 */
import { decodeUint, encodeUint } from './option.js';

export interface BlockOption {
  /** Block number, 0 to 2**20 - 1. */
  readonly num: number;
  /** More blocks follow. */
  readonly more: boolean;
  /** Size exponent: size = 2 ** (szx + 4). */
  readonly szx: number;
}

export const blockSize = (szx: number): number => 1 << (szx + 4);

/** SZX of a block size that is a power of two from 16 to 1024, else `undefined`. */
export function szxOf(size: number): number | undefined {
  for (let szx = 0; szx <= 6; szx++) if (blockSize(szx) === size) return szx;
  return undefined;
}

/**
 * Decodes a block option value; `undefined` for one that no peer may send: longer than 3 bytes
 * (RFC 7959 §2.2) or with the reserved SZX 7 (RFC 7959 §2.2, which asks for 4.00).
 */
export function decodeBlock(value: Buffer): BlockOption | undefined {
  if (value.length > 3) return undefined;
  const n = decodeUint(value);
  const szx = n & 0x7;
  if (szx === 7) return undefined;
  return { num: n >>> 4, more: (n & 0x8) !== 0, szx };
}

export function encodeBlock(block: BlockOption): Buffer {
  if (block.num < 0 || block.num >= 1 << 20) throw new RangeError(`block number ${block.num}`);
  return encodeUint(block.num * 16 + (block.more ? 8 : 0) + block.szx);
}
