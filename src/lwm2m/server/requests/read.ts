/** Read (LwM2M-TS-Core 1.1 §6.3.1; CoAP mapping LwM2M 1.0 §8.2.4 Table 25: GET, Accept). */
import { Code } from '../../../coap/code.js';
import type { Lwm2mNode } from '../../node/lwm2m-node.js';
import type { Lwm2mPath } from '../../node/lwm2m-path.js';
import {
  checkCode,
  decodeContent,
  errorMessageOf,
  Lwm2mResponse,
  type Operation,
  requireLevel,
  toPath,
  uriPath,
} from './operation.js';

export interface ReadRequest {
  readonly path: string | Lwm2mPath;
  /** Format to ask for (Accept); default the device's format. */
  readonly format?: number;
}

export class ReadResponse extends Lwm2mResponse {
  constructor(
    code: number,
    /** The node read, on 2.05. */
    readonly content?: Lwm2mNode,
    errorMessage?: string,
  ) {
    super(code, errorMessage);
  }
}

// LwM2M 1.0 §8.2.4 Table 25: Read answers 2.05, 4.00, 4.01, 4.04, 4.05, 4.06.
export const READ_CODES = [
  Code.Content,
  Code.BadRequest,
  Code.Unauthorized,
  Code.NotFound,
  Code.MethodNotAllowed,
  Code.NotAcceptable,
];

export const readOperation: Operation<ReadRequest, ReadResponse> = {
  name: 'Read',
  minVersion: '1.0',
  build(request, device) {
    const path = toPath(request.path);
    // LwM2M-TS-Core 1.1 §6.3.1: Read targets an object, instance, resource or resource instance.
    requireLevel('Read', path, [1, 2, 3, 4], 'LwM2M-TS-Core 1.1 §6.3.1');
    return { code: Code.Get, path: uriPath(device, path), accept: request.format ?? device.format };
  },
  parse(response, request, device) {
    checkCode('Read', response.code, READ_CODES);
    if (response.code !== Code.Content) {
      return new ReadResponse(response.code, undefined, errorMessageOf(response));
    }
    const path = toPath(request.path);
    return new ReadResponse(
      response.code,
      decodeContent(response, path, device, request.format ?? device.format),
    );
  },
};
