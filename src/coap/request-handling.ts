import type { DatagramPeer } from '../transport/datagram.js';
import { type BlockOption, decodeBlock } from './block-option.js';
import { Code } from './code.js';
import { type CoapMessage, MessageType } from './message.js';
import {
  type CoapOption,
  findUnrecognisedCritical,
  getOption,
  getUintOption,
  OptionNumber,
  sortOptions,
  uintOption,
} from './option.js';
import {
  type OutgoingResponse,
  requestFromMessage,
  responseOptions,
  toBuffer,
  transferKey,
} from './request.js';
import { type ServerContext, ServerExchange } from './server-exchange.js';

/**
 * Processes one new (not duplicate) request: method and option checks (RFC 7252 §5.4.1, §5.8),
 * Block1 reassembly and Block2 continuation (RFC 7959), Observe deregistration (RFC 7641 §3.6),
 * then the handler, whose response goes out piggy-backed or separately.
 */
export async function handleRequest(
  ctx: ServerContext,
  message: CoapMessage,
  peer: DatagramPeer,
): Promise<void> {
  const exchange = new ServerExchange(ctx, message, peer);
  // RFC 7252 §5.8: a method we do not know is answered 4.05 (Method Not Allowed).
  if (message.code > Code.IPatch) {
    exchange.respond({ code: Code.MethodNotAllowed });
    return;
  }
  // RFC 7252 §5.4.1: an unrecognised critical option in a CON request is answered 4.02;
  // in a NON request the message is rejected (§4.3), which we do silently.
  const bad = findUnrecognisedCritical(message.options, ctx.knownOptions);
  if (bad !== undefined) {
    ctx.stats.badOption++;
    if (message.type === MessageType.Con) {
      exchange.respond({ code: Code.BadOption, payload: `unrecognised critical option ${bad}` });
    }
    return;
  }
  // RFC 7252 §5.10.2: an endpoint that is no forward-proxy answers Proxy-Uri with 5.05.
  if (
    getOption(message.options, OptionNumber.ProxyUri) ||
    getOption(message.options, OptionNumber.ProxyScheme)
  ) {
    exchange.respond({ code: Code.ProxyingNotSupported });
    return;
  }
  const key = transferKey(peer.key, message);
  let body = message.payload;
  /** The message handed to the handler: the last block, completed from the first. */
  let request = message;
  let block1: BlockOption | undefined;
  const rawBlock1 = getOption(message.options, OptionNumber.Block1);
  if (rawBlock1 !== undefined) {
    const b = decodeBlock(rawBlock1);
    // RFC 7959 §2.2: a malformed block option (or SZX 7) in a request is answered 4.00.
    if (!b) {
      exchange.respond({ code: Code.BadRequest, payload: 'invalid Block1 option' });
      return;
    }
    const result = ctx.blockwise.receiveBlock1(
      key,
      b,
      message.payload,
      getUintOption(message.options, OptionNumber.Size1),
      getOption(message.options, OptionNumber.ContentFormat),
    );
    if (result.kind === 'error') {
      const options: CoapOption[] = [];
      if (result.size1 !== undefined) options.push(uintOption(OptionNumber.Size1, result.size1));
      exchange.respond({ code: result.code, options, payload: result.reason });
      return;
    }
    if (result.kind === 'continue') {
      // RFC 7959 §2.3: each non-final block is acknowledged with 2.31 Continue.
      exchange.respond({ code: Code.Continue }, { block1: result.block1 });
      return;
    }
    body = result.body;
    block1 = result.block1;
    const cf = result.contentFormat;
    if (cf !== undefined && getOption(message.options, OptionNumber.ContentFormat) === undefined) {
      request = {
        ...message,
        options: sortOptions([
          ...message.options,
          { number: OptionNumber.ContentFormat, value: cf },
        ]),
      };
    }
    if (b.num > 0 || b.more) ctx.stats.blockwiseTransfers++;
  }
  let block2: BlockOption | undefined;
  const rawBlock2 = getOption(message.options, OptionNumber.Block2);
  if (rawBlock2 !== undefined) {
    block2 = decodeBlock(rawBlock2);
    if (!block2) {
      exchange.respond({ code: Code.BadRequest, payload: 'invalid Block2 option' });
      return;
    }
    if (block2.num > 0) {
      const cached = ctx.blockwise.cachedResponse(key);
      if (cached) {
        exchange.respondBlock(key, cached.code, cached.options, cached.body, block2, block1);
        return;
      }
      // RFC 7959 §2.7: a later block of the response to a POST/PUT/PATCH needs the transfer's
      // state; running the handler again would repeat the action, so the transfer is over.
      if (message.code !== Code.Get && message.code !== Code.Fetch) {
        exchange.respond({ code: Code.RequestEntityIncomplete, payload: 'no such transfer' });
        return;
      }
    }
  }
  const observeValue = getUintOption(message.options, OptionNumber.Observe);
  if (observeValue === 1) {
    // RFC 7641 §3.6: a GET with Observe=1 and the observation's token deregisters.
    ctx.observers.remove(peer.key, message.token);
  }
  const handler = ctx.handler();
  let response: OutgoingResponse;
  if (!handler) {
    response = { code: Code.NotFound };
  } else {
    exchange.armSeparate(ctx.separateAfterMs);
    try {
      const incoming = requestFromMessage(request, body);
      ctx.remember(incoming, message);
      response = await handler(incoming, peer);
      if (typeof response?.code !== 'number')
        throw new TypeError('handler returned no response code');
    } catch (err) {
      ctx.stats.handlerErrors++;
      ctx.logger?.error({ err, peer: peer.key }, 'coap: request handler failed');
      response = { code: Code.InternalServerError };
    }
  }
  if (ctx.closed()) return;
  let options: CoapOption[];
  let payload: Buffer;
  try {
    options = responseOptions(response);
    payload = toBuffer(response.payload);
  } catch (err) {
    // A response that cannot be put on the wire (an option value out of range) is our bug.
    ctx.stats.handlerErrors++;
    ctx.logger?.error({ err, peer: peer.key }, 'coap: invalid response from the handler');
    exchange.respond({ code: Code.InternalServerError });
    return;
  }
  exchange.respondBlock(key, response.code, options, payload, block2, block1);
}
