/**
 * Server side of block-wise transfers (RFC 7959): reassembly of Block1 request bodies and the
 * cache that serves a large response block by block with Block2. Transfers are keyed by peer,
 * method and request options (`transferKey`), never by token, because clients such as libcoap
 * use a new token for every block (RFC 7959 §2.4 allows it). Memory is bounded per transfer and
 * in total, and idle transfers expire.
 */
import type { Clock, TimerHandle } from '../util/clock.js';
import { type BlockOption, blockSize } from './block-option.js';
import { Code } from './code.js';

export interface BlockwiseLimits {
  /** Largest request body accepted through Block1, in bytes (answered 4.13 beyond). */
  readonly maxBodySize: number;
  /** Bytes held by all transfers together (Block1 bodies and cached Block2 responses). */
  readonly maxTotalBytes: number;
  /** Idle time after which a transfer is dropped. */
  readonly lifetimeMs: number;
}

/** Approximate memory of one transfer's bookkeeping (key, entry, array), counted in the limit. */
const TRANSFER_OVERHEAD = 512;
/** Approximate memory of one stored block besides its bytes. */
const BLOCK_OVERHEAD = 96;

export const defaultBlockwiseLimits: BlockwiseLimits = {
  maxBodySize: 1024 * 1024,
  maxTotalBytes: 32 * 1024 * 1024,
  lifetimeMs: 247_000,
};

export type Block1Result =
  /** A block was stored and more are expected: answer 2.31 Continue with this Block1. */
  | { readonly kind: 'continue'; readonly block1: BlockOption }
  /** The body is complete; the final response carries this Block1 (RFC 7959 §2.3). */
  | {
      readonly kind: 'complete';
      readonly body: Buffer;
      readonly block1: BlockOption;
      /** Content-Format of the first block, which some clients do not repeat in later ones. */
      readonly contentFormat: Buffer | undefined;
    }
  /** The transfer cannot go on: answer with this code (and Size1 when given). */
  | {
      readonly kind: 'error';
      readonly code: number;
      readonly size1?: number;
      readonly reason: string;
    };

interface Block1Transfer {
  readonly contentFormat: Buffer | undefined;
  readonly parts: Buffer[];
  received: number;
  /** Bytes counted against `maxTotalBytes`: the blocks plus the bookkeeping around them. */
  charged: number;
  expiresAt: number;
}

export interface CachedResponse {
  readonly code: number;
  readonly options: import('./option.js').CoapOption[];
  readonly body: Buffer;
  expiresAt: number;
}

export class BlockwiseServer {
  readonly #clock: Clock;
  readonly #limits: BlockwiseLimits;
  readonly #preferredSzx: number;
  readonly #block1 = new Map<string, Block1Transfer>();
  readonly #block2 = new Map<string, CachedResponse>();
  #totalBytes = 0;
  #sweep: TimerHandle | undefined;

  constructor(clock: Clock, limits: BlockwiseLimits, preferredSzx: number) {
    this.#clock = clock;
    this.#limits = limits;
    this.#preferredSzx = preferredSzx;
  }

  /** Takes one Block1 block of a request (RFC 7959 §2.5). */
  receiveBlock1(
    key: string,
    block: BlockOption,
    payload: Buffer,
    size1?: number,
    contentFormat?: Buffer,
  ): Block1Result {
    this.prune();
    const size = blockSize(block.szx);
    if (block.num === 0) this.#dropBlock1(key);
    // RFC 7959 §2.9.3: a body larger than we accept is answered 4.13 with Size1 set to our limit.
    if (size1 !== undefined && size1 > this.#limits.maxBodySize) {
      return this.#tooLarge();
    }
    // RFC 7959 §2.2: every block but the last carries exactly the block size.
    if (block.more && payload.length !== size) {
      this.#dropBlock1(key);
      return { kind: 'error', code: Code.BadRequest, reason: 'non-final block of the wrong size' };
    }
    if (payload.length > size) {
      this.#dropBlock1(key);
      return { kind: 'error', code: Code.BadRequest, reason: 'block larger than its SZX' };
    }
    let transfer = this.#block1.get(key);
    if (!transfer && block.num === 0) {
      if (!block.more) {
        // A single-block transfer needs no state.
        return { kind: 'complete', body: payload, block1: block, contentFormat };
      }
      transfer = { contentFormat, parts: [], received: 0, charged: 0, expiresAt: 0 };
      this.#block1.set(key, transfer);
      this.#armSweep();
    }
    // RFC 7959 §2.9.2: a block that is not the next one expected is answered 4.08.
    if (!transfer || block.num * size !== transfer.received) {
      this.#dropBlock1(key);
      return {
        kind: 'error',
        code: Code.RequestEntityIncomplete,
        reason: `block ${block.num} out of order`,
      };
    }
    if (transfer.received + payload.length > this.#limits.maxBodySize) {
      this.#dropBlock1(key);
      return this.#tooLarge();
    }
    // Small blocks cost more than their bytes (a Buffer and a map entry each): count that too,
    // so that many tiny transfers cannot hold more memory than the limit says.
    const charge =
      payload.length + BLOCK_OVERHEAD + (transfer.parts.length === 0 ? TRANSFER_OVERHEAD : 0);
    if (this.#totalBytes + charge > this.#limits.maxTotalBytes) {
      this.#dropBlock1(key);
      return {
        kind: 'error',
        code: Code.ServiceUnavailable,
        reason: 'block-wise memory exhausted',
      };
    }
    transfer.parts.push(payload);
    transfer.received += payload.length;
    transfer.charged += charge;
    this.#totalBytes += charge;
    transfer.expiresAt = this.#clock.now() + this.#limits.lifetimeMs;
    if (block.more) {
      // RFC 7959 §2.3: 2.31 Continue may propose a smaller block size for the next blocks.
      const szx = Math.min(block.szx, this.#preferredSzx);
      return { kind: 'continue', block1: { num: block.num, more: true, szx } };
    }
    const body = Buffer.concat(transfer.parts);
    this.#dropBlock1(key);
    return {
      kind: 'complete',
      body,
      block1: block,
      contentFormat: transfer.contentFormat ?? contentFormat,
    };
  }

  #tooLarge(): Block1Result {
    return {
      kind: 'error',
      code: Code.RequestEntityTooLarge,
      size1: this.#limits.maxBodySize,
      reason: 'request body over the limit',
    };
  }

  #dropBlock1(key: string): void {
    const t = this.#block1.get(key);
    if (!t) return;
    this.#totalBytes -= t.charged;
    this.#block1.delete(key);
  }

  /** Stores a large response to serve its later blocks without calling the handler again. */
  storeResponse(key: string, code: number, options: CachedResponse['options'], body: Buffer): void {
    this.prune();
    this.dropResponse(key);
    if (this.#totalBytes + body.length + TRANSFER_OVERHEAD > this.#limits.maxTotalBytes) return;
    this.#armSweep();
    this.#block2.set(key, {
      code,
      options,
      body,
      expiresAt: this.#clock.now() + this.#limits.lifetimeMs,
    });
    this.#totalBytes += body.length + TRANSFER_OVERHEAD;
  }

  cachedResponse(key: string): CachedResponse | undefined {
    this.prune();
    const cached = this.#block2.get(key);
    if (cached) cached.expiresAt = this.#clock.now() + this.#limits.lifetimeMs;
    return cached;
  }

  dropResponse(key: string): void {
    const c = this.#block2.get(key);
    if (!c) return;
    this.#totalBytes -= c.body.length + TRANSFER_OVERHEAD;
    this.#block2.delete(key);
  }

  /** Drops expired transfers. */
  prune(): void {
    const now = this.#clock.now();
    for (const [key, t] of this.#block1) if (t.expiresAt <= now) this.#dropBlock1(key);
    for (const [key, c] of this.#block2) if (c.expiresAt <= now) this.dropResponse(key);
  }

  /** Sweeps expired transfers even when no block-wise traffic comes to do it. */
  #armSweep(): void {
    if (this.#sweep) return;
    this.#sweep = this.#clock.setTimeout(() => {
      this.#sweep = undefined;
      this.prune();
      if (this.#block1.size + this.#block2.size > 0) this.#armSweep();
    }, this.#limits.lifetimeMs);
    this.#sweep.unref?.();
  }

  get totalBytes(): number {
    return this.#totalBytes;
  }

  get activeTransfers(): number {
    return this.#block1.size + this.#block2.size;
  }

  clear(): void {
    if (this.#sweep) this.#clock.clearTimeout(this.#sweep);
    this.#sweep = undefined;
    this.#block1.clear();
    this.#block2.clear();
    this.#totalBytes = 0;
  }
}
