/**
 * Discover (LwM2M-TS-Core 1.1 §6.3.2; LwM2M 1.0 §8.2.4 Table 25: GET with Accept
 * application/link-format): the object's instances and resources with their attributes.
 */
import { Code } from '../../../coap/code.js';
import { parseLinkFormat } from '../../../coap/link-format.js';
import { ContentFormat } from '../../codec/content-format.js';
import type { Lwm2mPath } from '../../node/lwm2m-path.js';
import { Lwm2mError } from '../errors.js';
import {
  checkCode,
  errorMessageOf,
  Lwm2mResponse,
  type Operation,
  requireLevel,
  toPath,
  uriPath,
} from './operation.js';

export interface DiscoverRequest {
  readonly path: string | Lwm2mPath;
}

/** One link of a Discover answer: `</3/0/1>;pmin=10` → `{ path: '/3/0/1', attributes }`. */
export interface DiscoveredLink {
  readonly path: string;
  readonly attributes: Readonly<Record<string, string | true>>;
}

export class DiscoverResponse extends Lwm2mResponse {
  constructor(
    code: number,
    readonly links: readonly DiscoveredLink[] = [],
    errorMessage?: string,
  ) {
    super(code, errorMessage);
  }
}

// LwM2M 1.0 §8.2.4 Table 25: Discover answers 2.05, 4.00, 4.01, 4.04, 4.05.
export const DISCOVER_CODES = [
  Code.Content,
  Code.BadRequest,
  Code.Unauthorized,
  Code.NotFound,
  Code.MethodNotAllowed,
  Code.NotAcceptable,
];

export const discoverOperation: Operation<DiscoverRequest, DiscoverResponse> = {
  name: 'Discover',
  minVersion: '1.0',
  build(request, device) {
    const path = toPath(request.path);
    // LwM2M-TS-Core 1.1 §6.3.2: Discover targets an object, an instance or a resource.
    requireLevel('Discover', path, [1, 2, 3], 'LwM2M-TS-Core 1.1 §6.3.2');
    return { code: Code.Get, path: uriPath(device, path), accept: ContentFormat.LINK };
  },
  parse(response, _request, device) {
    checkCode('Discover', response.code, DISCOVER_CODES);
    if (response.code !== Code.Content) {
      return new DiscoverResponse(response.code, [], errorMessageOf(response));
    }
    const parsed = parseLinkFormat(response.payload);
    if (!parsed.ok) {
      throw new Lwm2mError('LWM2M_ERR_BAD_PAYLOAD', `Discover: ${parsed.error.message}`);
    }
    const root = device.registration.rootPath === '/' ? '' : device.registration.rootPath;
    return new DiscoverResponse(
      response.code,
      parsed.links.map((l) => ({
        path: root && l.uri.startsWith(root) ? l.uri.slice(root.length) : l.uri,
        attributes: { ...l.attributes },
      })),
    );
  },
};
