/**
 * Read-Composite (LwM2M-TS-Core 1.1 §6.3.8; LwM2M-TS-Transport 1.1 §6.4: FETCH on the root with
 * the path list as SenML). New in LwM2M 1.1.
 */
import { Code } from '../../../coap/code.js';
import type { Lwm2mNode } from '../../node/lwm2m-node.js';
import type { Lwm2mPath } from '../../node/lwm2m-path.js';
import { ROOT_PATH } from '../../node/lwm2m-path.js';
import { compositePaths, decodeCompositeContent, encodePathList } from './composite.js';
import { checkCode, errorMessageOf, Lwm2mResponse, type Operation, uriPath } from './operation.js';

export interface ReadCompositeRequest {
  readonly paths: readonly (string | Lwm2mPath)[];
  /** Format of the path list and of the answer; default the device's composite format. */
  readonly format?: number;
}

export class ReadCompositeResponse extends Lwm2mResponse {
  constructor(
    code: number,
    /** Requested path → node (undefined where the device had nothing). */
    readonly content: ReadonlyMap<string, Lwm2mNode | undefined> = new Map(),
    errorMessage?: string,
  ) {
    super(code, errorMessage);
  }
}

// LwM2M-TS-Core 1.1 §6.3.8: 2.05, 4.00, 4.01, 4.04, 4.05, 4.06, 4.15.
export const READ_COMPOSITE_CODES = [
  Code.Content,
  Code.BadRequest,
  Code.Unauthorized,
  Code.NotFound,
  Code.MethodNotAllowed,
  Code.NotAcceptable,
  Code.UnsupportedContentFormat,
];

export const readCompositeOperation: Operation<ReadCompositeRequest, ReadCompositeResponse> = {
  name: 'Read-Composite',
  minVersion: '1.1',
  build(request, device) {
    const paths = compositePaths(request.paths, 'Read-Composite');
    const format = request.format ?? device.compositeFormat;
    return {
      code: Code.Fetch,
      path: uriPath(device, ROOT_PATH),
      contentFormat: format,
      accept: format,
      payload: encodePathList(paths, format, device),
    };
  },
  parse(response, request, device) {
    checkCode('Read-Composite', response.code, READ_COMPOSITE_CODES);
    if (response.code !== Code.Content) {
      return new ReadCompositeResponse(response.code, new Map(), errorMessageOf(response));
    }
    const paths = compositePaths(request.paths, 'Read-Composite');
    const format = request.format ?? device.compositeFormat;
    return new ReadCompositeResponse(
      response.code,
      decodeCompositeContent(response, paths, device, format),
    );
  },
};
