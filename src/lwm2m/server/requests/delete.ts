/** Delete (LwM2M-TS-Core 1.1 §6.3.7; LwM2M 1.0 §8.2.4 Table 25: DELETE on an object instance). */
import { Code } from '../../../coap/code.js';
import type { Lwm2mPath } from '../../node/lwm2m-path.js';
import {
  checkCode,
  errorMessageOf,
  Lwm2mResponse,
  type Operation,
  requireLevel,
  toPath,
  uriPath,
} from './operation.js';

export interface DeleteRequest {
  readonly path: string | Lwm2mPath;
}

export class DeleteResponse extends Lwm2mResponse {}

// LwM2M 1.0 §8.2.4 Table 25: Delete answers 2.02, 4.00, 4.01, 4.04, 4.05.
export const DELETE_CODES = [
  Code.Deleted,
  Code.BadRequest,
  Code.Unauthorized,
  Code.NotFound,
  Code.MethodNotAllowed,
];

export const deleteOperation: Operation<DeleteRequest, DeleteResponse> = {
  name: 'Delete',
  minVersion: '1.0',
  build(request, device) {
    const path = toPath(request.path);
    // LwM2M-TS-Core 1.1 §6.3.7: Delete targets an object instance.
    requireLevel('Delete', path, [2], 'LwM2M-TS-Core 1.1 §6.3.7');
    return { code: Code.Delete, path: uriPath(device, path) };
  },
  parse(response) {
    checkCode('Delete', response.code, DELETE_CODES);
    return new DeleteResponse(response.code, errorMessageOf(response));
  },
};
