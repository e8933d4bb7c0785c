/**
 * The server side of one request/response exchange: piggy-backed or separate response
 * (RFC 7252 §5.2), Block2 slicing of large responses (RFC 7959 §2.4), the Observe option of
 * registered observers (RFC 7641 §4) and notifications.
 */
import type { Logger } from 'pino';
import type { DatagramPeer } from '../transport/datagram.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { type BlockOption, blockSize, encodeBlock } from './block-option.js';
import type { BlockwiseServer } from './blockwise.js';
import { Code } from './code.js';
import type { Deduplicator } from './dedup.js';
import { type CoapMessage, encodeEmpty, encodeMessage, MessageType } from './message.js';
import type { ObserverEntry, ServerObserveRegistry } from './observe-server.js';
import {
  type CoapOption,
  getOption,
  OptionNumber,
  sortOptions,
  uintOption,
  withoutOptions,
} from './option.js';
import type { ReliabilityLayer } from './reliability.js';
import {
  type CoapRequest,
  type OutgoingResponse,
  type RequestHandler,
  responseOptions,
  toBuffer,
  transferKey,
} from './request.js';

/** What an exchange needs from its endpoint. */
export interface ServerContext {
  readonly clock: Clock;
  readonly szx: number;
  readonly blockwise: BlockwiseServer;
  readonly dedup: Deduplicator;
  readonly reliability: ReliabilityLayer;
  readonly observers: ServerObserveRegistry;
  readonly stats: {
    responsesOut: number;
    notificationsOut: number;
    blockwiseTransfers: number;
    handlerErrors: number;
    badOption: number;
  };
  readonly logger: Logger | undefined;
  /** A new message ID towards a peer (RFC 7252 §4.4). */
  messageId(peerKey: string): number;
  sendRaw(peer: DatagramPeer, data: Buffer): void;
  handler(): RequestHandler | undefined;
  /** Critical options understood beyond the RFCs' own. */
  readonly knownOptions: ReadonlySet<number>;
  /** Delay before an empty ACK for a slow handler (RFC 7252 §5.2.2). */
  readonly separateAfterMs: number;
  closed(): boolean;
  /** Links a request handed to the handler to its message (for `acceptObserve`). */
  remember(request: CoapRequest, message: CoapMessage): void;
}

/** RFC 7641 §4.5: at least one CON notification a day. */
const DAY_MS = 24 * 3600 * 1000;

/** RFC 7641 §4.4: sequence numbers are 24 bits. */
const SEQ_MASK = 0xffffff;

interface Slice {
  readonly code: number;
  readonly options: CoapOption[];
  readonly payload: Buffer;
}

/**
 * Cuts the block a request asks for out of a body (RFC 7959 §2.4), caching the body for the
 * later blocks. Bodies that fit in one block go out whole.
 */
export function sliceBody(
  ctx: ServerContext,
  key: string,
  code: number,
  options: CoapOption[],
  body: Buffer,
  requested: BlockOption | undefined,
  block1: BlockOption | undefined,
): Slice {
  const withBlock1 = block1
    ? sortOptions([...options, { number: OptionNumber.Block1, value: encodeBlock(block1) }])
    : options;
  // RFC 7959 §2.4: the client's SZX in Block2 is a preferred size; we may only go smaller.
  const szx = Math.min(requested?.szx ?? ctx.szx, ctx.szx);
  const size = blockSize(szx);
  const num = requested?.num ?? 0;
  if (num === 0 && body.length <= size) {
    ctx.blockwise.dropResponse(key);
    return { code, options: withBlock1, payload: body };
  }
  const offset = num * size;
  if (offset >= body.length) {
    // RFC 7959 §2.2 leaves a block past the end undefined; like Californium we answer 4.02.
    ctx.blockwise.dropResponse(key);
    return { code: Code.BadOption, options: [], payload: Buffer.from('block out of range') };
  }
  const more = offset + size < body.length;
  if (more) {
    if (num === 0) ctx.blockwise.storeResponse(key, code, options, body);
  } else {
    ctx.blockwise.dropResponse(key);
    ctx.stats.blockwiseTransfers++;
  }
  const out = [
    ...withBlock1,
    { number: OptionNumber.Block2, value: encodeBlock({ num, more, szx }) },
  ];
  // RFC 7959 §4: Size2 tells the client the size of the whole representation.
  if (num === 0) out.push(uintOption(OptionNumber.Size2, body.length));
  return { code, options: sortOptions(out), payload: body.subarray(offset, offset + size) };
}

export class ServerExchange {
  readonly #ctx: ServerContext;
  readonly request: CoapMessage;
  readonly peer: DatagramPeer;
  #emptyAckSent = false;
  #responded = false;
  #timer: TimerHandle | undefined;

  constructor(ctx: ServerContext, request: CoapMessage, peer: DatagramPeer) {
    this.#ctx = ctx;
    this.request = request;
    this.peer = peer;
  }

  /**
   * RFC 7252 §5.2.2: if the handler is not done within `ms`, acknowledge the CON request with an
   * empty ACK now and send the response later in its own CON.
   */
  armSeparate(ms: number): void {
    if (this.request.type !== MessageType.Con) return;
    this.#timer = this.#ctx.clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.#responded) return;
      this.#emptyAckSent = true;
      const data = encodeEmpty(MessageType.Ack, this.request.messageId);
      this.#ctx.dedup.setReply(this.peer.key, this.request.messageId, data);
      this.#ctx.sendRaw(this.peer, data);
    }, ms);
    this.#timer.unref?.();
  }

  /** Sends a response that needs no Block2 slicing. */
  respond(response: OutgoingResponse, extra: { block1?: BlockOption } = {}): void {
    let options = responseOptions(response);
    if (extra.block1) {
      options = sortOptions([
        ...options,
        { number: OptionNumber.Block1, value: encodeBlock(extra.block1) },
      ]);
    }
    this.#send(response.code, options, toBuffer(response.payload));
  }

  /** Sends a response, cut to the requested block when it is large (RFC 7959 §2.4). */
  respondBlock(
    key: string,
    code: number,
    options: CoapOption[],
    body: Buffer,
    block2: BlockOption | undefined,
    block1: BlockOption | undefined,
  ): void {
    const slice = sliceBody(this.#ctx, key, code, options, body, block2, block1);
    let out = slice.options;
    // RFC 7959 §4: Size2 in a request (usually 0) asks for the size of the representation.
    if (
      slice.code >> 5 === 2 &&
      getOption(this.request.options, OptionNumber.Size2) !== undefined &&
      getOption(out, OptionNumber.Size2) === undefined
    ) {
      out = sortOptions([...out, uintOption(OptionNumber.Size2, body.length)]);
    }
    this.#send(slice.code, out, slice.payload);
  }

  #send(code: number, options: CoapOption[], payload: Buffer): void {
    if (this.#responded) return;
    this.#responded = true;
    if (this.#timer) this.#ctx.clock.clearTimeout(this.#timer);
    const ctx = this.#ctx;
    const observer = ctx.observers.get(this.peer.key, this.request.token);
    let opts = options;
    if (observer && observer.request === this.request) {
      if (code >> 5 === 2) {
        // RFC 7641 §4.1: the response to a registration carries Observe with a sequence number.
        opts = sortOptions([
          ...withoutOptions(opts, OptionNumber.Observe),
          uintOption(OptionNumber.Observe, observer.seq),
        ]);
        observer.seq = (observer.seq + 1) & SEQ_MASK;
      } else {
        // RFC 7641 §4.1: an error response ends the registration.
        ctx.observers.end(observer);
      }
    }
    const req = this.request;
    const con = req.type === MessageType.Con;
    const piggyback = con && !this.#emptyAckSent;
    const message: CoapMessage = {
      // RFC 7252 §5.2.1 piggy-backed in the ACK; §5.2.2 separate as CON; §5.2.3 NON for NON.
      type: piggyback ? MessageType.Ack : con ? MessageType.Con : MessageType.Non,
      code,
      messageId: piggyback ? req.messageId : ctx.messageId(this.peer.key),
      token: req.token,
      options: opts,
      payload,
    };
    let data: Buffer;
    try {
      data = encodeMessage(message);
    } catch (err) {
      ctx.stats.handlerErrors++;
      ctx.logger?.error({ err }, 'coap: response cannot be encoded');
      data = encodeMessage({
        ...message,
        code: Code.InternalServerError,
        options: [],
        payload: Buffer.alloc(0),
      });
    }
    ctx.stats.responsesOut++;
    if (piggyback) {
      ctx.dedup.setReply(this.peer.key, req.messageId, data);
      ctx.sendRaw(this.peer, data);
    } else if (con) {
      ctx.reliability.sendConfirmable(this.peer, message.messageId, data, (outcome) => {
        if (outcome.kind === 'rst' && observer) ctx.observers.end(observer);
      });
    } else {
      ctx.sendRaw(this.peer, data);
    }
  }
}

/** Sends one notification to an observer (RFC 7641 §4.2). */
export function sendNotification(
  ctx: ServerContext,
  entry: ObserverEntry,
  response: OutgoingResponse,
  requestedConfirmable: boolean,
): void {
  if (!entry.active) return;
  const now = ctx.clock.now();
  // RFC 7641 §4.5: a server sends a CON notification at least every 24 hours, to learn whether
  // the client is still interested.
  const confirmable = requestedConfirmable || now - entry.lastConfirmableAt >= DAY_MS;
  const success = response.code >> 5 === 2;
  let slice = sliceBody(
    ctx,
    transferKey(entry.peer.key, entry.request),
    response.code,
    responseOptions(response),
    toBuffer(response.payload),
    undefined,
    undefined,
  );
  if (success) {
    slice = {
      ...slice,
      options: sortOptions([
        ...withoutOptions(slice.options, OptionNumber.Observe),
        uintOption(OptionNumber.Observe, entry.seq),
      ]),
    };
    entry.seq = (entry.seq + 1) & SEQ_MASK;
  }
  const messageId = ctx.messageId(entry.peer.key);
  const message: CoapMessage = {
    type: confirmable ? MessageType.Con : MessageType.Non,
    code: slice.code,
    messageId,
    token: entry.token,
    options: slice.options,
    payload: slice.payload,
  };
  const data = encodeMessage(message);
  ctx.stats.notificationsOut++;
  if (confirmable) {
    // RFC 7641 §4.5.2: a newer notification replaces one still being retransmitted.
    if (entry.pendingConfirmable !== undefined) {
      ctx.reliability.cancel(entry.peer.key, entry.pendingConfirmable);
    }
    entry.pendingConfirmable = messageId;
    entry.lastConfirmableAt = now;
    ctx.reliability.sendConfirmable(entry.peer, messageId, data, (outcome) => {
      if (entry.pendingConfirmable === messageId) entry.pendingConfirmable = undefined;
      // RFC 7641 §3.6 (RST) and §4.5 (no ACK after all retransmissions) end the observation.
      if (outcome.kind === 'rst' || outcome.kind === 'timeout') ctx.observers.end(entry);
    });
  } else {
    ctx.observers.trackNon(entry, messageId);
    ctx.sendRaw(entry.peer, data);
  }
  // RFC 7641 §3.2: an error notification ends the observation.
  if (!success) ctx.observers.end(entry);
}
