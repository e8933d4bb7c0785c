/**
 * Write-Composite (LwM2M-TS-Core 1.1 §6.3.9; LwM2M-TS-Transport 1.1 §6.4: iPATCH on the root
 * with SenML path-values). New in LwM2M 1.1.
 */
import { Code } from '../../../coap/code.js';
import { ROOT_PATH } from '../../node/lwm2m-path.js';
import type { Lwm2mPathValue } from '../../node/path-value.js';
import { Lwm2mError } from '../errors.js';
import { encodeValues } from './composite.js';
import { checkCode, errorMessageOf, Lwm2mResponse, type Operation, uriPath } from './operation.js';

export interface WriteCompositeRequest {
  /** Resource or resource-instance paths with their new values. */
  readonly values: readonly Lwm2mPathValue[];
  readonly format?: number;
}

export class WriteCompositeResponse extends Lwm2mResponse {}

// LwM2M-TS-Core 1.1 §6.3.9: 2.04, 4.00, 4.01, 4.04, 4.05, 4.15.
export const WRITE_COMPOSITE_CODES = [
  Code.Changed,
  Code.BadRequest,
  Code.Unauthorized,
  Code.NotFound,
  Code.MethodNotAllowed,
  Code.UnsupportedContentFormat,
];

export const writeCompositeOperation: Operation<WriteCompositeRequest, WriteCompositeResponse> = {
  name: 'Write-Composite',
  minVersion: '1.1',
  build(request, device) {
    if (request.values.length === 0) {
      throw new Lwm2mError('LWM2M_ERR_INVALID_REQUEST', 'Write-Composite: no value');
    }
    for (const v of request.values) {
      // LwM2M-TS-Core 1.1 §6.3.9: each entry is a resource or a resource instance.
      if (!v.path.isResource() && !v.path.isResourceInstance()) {
        throw new Lwm2mError(
          'LWM2M_ERR_INVALID_REQUEST',
          `Write-Composite: ${v.path} is not a resource`,
        );
      }
    }
    const format = request.format ?? device.compositeFormat;
    return {
      code: Code.IPatch,
      path: uriPath(device, ROOT_PATH),
      contentFormat: format,
      payload: encodeValues(request.values, format, device),
    };
  },
  parse(response) {
    checkCode('Write-Composite', response.code, WRITE_COMPOSITE_CODES);
    return new WriteCompositeResponse(response.code, errorMessageOf(response));
  },
};
