/**
 * A small request router for the endpoint's single handler: routes by Uri-Path prefix, longest
 * prefix first; `/rd`, `/bs` and `/dp` for the LwM2M server, for example.
 */
import type { DatagramPeer } from '../transport/datagram.js';
import { Code } from './code.js';
import { pathSegments } from './option.js';
import type { CoapRequest, OutgoingResponse, RequestHandler } from './request.js';

export class CoapRouter {
  readonly #routes: { prefix: string[]; handler: RequestHandler }[] = [];

  /** Routes requests whose path starts with `prefix` (`'/rd'`, `''` for all) to `handler`. */
  add(prefix: string | readonly string[], handler: RequestHandler): this {
    this.#routes.push({ prefix: pathSegments(prefix), handler });
    this.#routes.sort((a, b) => b.prefix.length - a.prefix.length);
    return this;
  }

  /** The router as the endpoint's handler; unknown paths get 4.04 (RFC 7252 §5.9.2.5). */
  readonly handle: RequestHandler = (
    request: CoapRequest,
    peer: DatagramPeer,
  ): Promise<OutgoingResponse> | OutgoingResponse => {
    for (const route of this.#routes) {
      if (route.prefix.every((seg, i) => request.path[i] === seg)) {
        return route.handler(request, peer);
      }
    }
    return { code: Code.NotFound };
  };
}
