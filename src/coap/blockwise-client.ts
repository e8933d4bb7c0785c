/**
 * Client side of block-wise transfers (RFC 7959): a request body larger than the block size goes
 * out block by block with Block1, and a response that announces more blocks with Block2 is
 * fetched to its end. Each block is its own exchange (with its own token) through `exchange`.
 */
import { type BlockOption, blockSize, decodeBlock, encodeBlock } from './block-option.js';
import { Code } from './code.js';
import { CoapBlockwiseError } from './errors.js';
import type { CoapMessage } from './message.js';
import {
  type CoapOption,
  getOption,
  OptionNumber,
  sortOptions,
  uintOption,
  withoutOptions,
} from './option.js';

export interface ExchangeParts {
  readonly code: number;
  readonly options: readonly CoapOption[];
  readonly payload: Buffer;
  readonly confirmable: boolean;
}

export type Exchange = (parts: ExchangeParts) => Promise<CoapMessage>;

export interface BlockwiseClientOptions {
  /** SZX to use for Block1 and to ask for with Block2. */
  readonly szx: number;
  /** Send Block2 with the first request (RFC 7959 §2.4 early negotiation). */
  readonly earlyBlock2: boolean;
  /** Largest response body we reassemble. */
  readonly maxBodySize: number;
  /** Called once per completed multi-block transfer, for stats. */
  readonly onTransfer: () => void;
}

export interface BlockwiseResult {
  /** The last response message (its options describe the whole body). */
  readonly message: CoapMessage;
  /** The whole body. */
  readonly payload: Buffer;
}

const withBlock = (options: readonly CoapOption[], number: number, block: BlockOption) =>
  sortOptions([...withoutOptions(options, number), { number, value: encodeBlock(block) }]);

/** Sends a request, with Block1 when its body needs it, and reassembles a Block2 response. */
export async function requestBlockwise(
  exchange: Exchange,
  parts: ExchangeParts,
  opts: BlockwiseClientOptions,
): Promise<BlockwiseResult> {
  let response: CoapMessage;
  let size = blockSize(opts.szx);
  const baseOptions = withoutOptions(parts.options, OptionNumber.Block1, OptionNumber.Block2);
  if (parts.payload.length > size) {
    let offset = 0;
    let num = 0;
    let szx = opts.szx;
    for (;;) {
      const chunk = parts.payload.subarray(offset, offset + size);
      const more = offset + chunk.length < parts.payload.length;
      let options = withBlock(baseOptions, OptionNumber.Block1, { num, more, szx });
      // RFC 7959 §4: Size1 in the first block tells the server the size of the whole body.
      if (num === 0)
        options = sortOptions([...options, uintOption(OptionNumber.Size1, parts.payload.length)]);
      if (opts.earlyBlock2 && !more) {
        options = withBlock(options, OptionNumber.Block2, { num: 0, more: false, szx: opts.szx });
      }
      response = await exchange({ ...parts, options, payload: chunk });
      if (!more) {
        opts.onTransfer();
        break;
      }
      // RFC 7959 §2.3: anything but 2.31 Continue ends the transfer; the caller gets it.
      if (response.code !== Code.Continue) return { message: response, payload: response.payload };
      const ack = decodeBlockOption(response, OptionNumber.Block1);
      if (!ack || ack.num !== num) {
        throw new CoapBlockwiseError('2.31 Continue without the matching Block1 option');
      }
      offset += chunk.length;
      // RFC 7959 §2.3: the server may ask for smaller blocks; later numbers count in that size.
      if (ack.szx < szx) {
        szx = ack.szx;
        size = blockSize(szx);
      }
      num = offset / size;
    }
  } else {
    let options = baseOptions;
    if (opts.earlyBlock2) {
      // RFC 7959 §2.4: a Block2 option with NUM 0 in the first request proposes the block size.
      options = withBlock(options, OptionNumber.Block2, { num: 0, more: false, szx: opts.szx });
    }
    response = await exchange({ ...parts, options });
  }
  return fetchRemainingBlocks(
    exchange,
    { ...parts, options: baseOptions, payload: Buffer.alloc(0) },
    response,
    opts,
  );
}

function decodeBlockOption(message: CoapMessage, number: number): BlockOption | undefined {
  const v = getOption(message.options, number);
  return v === undefined ? undefined : decodeBlock(v);
}

/**
 * Given a response that may carry Block2 with M set, fetches the later blocks (RFC 7959 §2.4)
 * with the request's options and returns the whole body. Also used for notifications (§2.6).
 */
export async function fetchRemainingBlocks(
  exchange: Exchange,
  request: ExchangeParts,
  first: CoapMessage,
  opts: BlockwiseClientOptions,
): Promise<BlockwiseResult> {
  const raw = getOption(first.options, OptionNumber.Block2);
  if (raw === undefined) return { message: first, payload: first.payload };
  let block = decodeBlock(raw);
  if (!block) throw new CoapBlockwiseError('invalid Block2 option in a response');
  if (!block.more) return { message: first, payload: first.payload };
  if (block.num !== 0) throw new CoapBlockwiseError('first Block2 response is not block 0');
  // RFC 7959 §2.2: every block but the last carries exactly the block size.
  if (first.payload.length !== blockSize(block.szx)) {
    throw new CoapBlockwiseError('non-final Block2 block of the wrong size');
  }
  const etag = getOption(first.options, OptionNumber.ETag);
  const parts: Buffer[] = [first.payload];
  let received = first.payload.length;
  let last = first;
  // RFC 7959 §2.6, §3.3: later blocks of a notification are asked for without Observe.
  const options = withoutOptions(request.options, OptionNumber.Observe, OptionNumber.Block1);
  // RFC 7959 §2.7: the later blocks of a response to a request with a body (POST, PUT, FETCH)
  // are asked for with the same method; only FETCH repeats its body, which names the resource.
  const method = request.code;
  while (block.more) {
    const size = blockSize(block.szx);
    if (received % size !== 0) throw new CoapBlockwiseError('block size does not divide the body');
    const next: BlockOption = { num: received / size, more: false, szx: block.szx };
    const response = await exchange({
      code: method,
      options: withBlock(options, OptionNumber.Block2, next),
      payload: request.code === Code.Fetch ? request.payload : Buffer.alloc(0),
      confirmable: request.confirmable,
    });
    if (response.code >> 5 !== 2) return { message: response, payload: response.payload };
    const got = decodeBlockOption(response, OptionNumber.Block2);
    if (!got || got.num * blockSize(got.szx) !== received) {
      throw new CoapBlockwiseError('Block2 response for another block');
    }
    // RFC 7959 §2.4: a changed ETag means the representation changed under the transfer.
    const tag = getOption(response.options, OptionNumber.ETag);
    if ((etag && !tag?.equals(etag)) || (!etag && tag)) {
      throw new CoapBlockwiseError('representation changed during the Block2 transfer (ETag)');
    }
    if (got.more && response.payload.length !== blockSize(got.szx)) {
      throw new CoapBlockwiseError('non-final Block2 block of the wrong size');
    }
    received += response.payload.length;
    if (received > opts.maxBodySize) throw new CoapBlockwiseError('response body over the limit');
    parts.push(response.payload);
    block = got;
    last = response;
  }
  opts.onTransfer();
  return { message: last, payload: Buffer.concat(parts) };
}
