/**
 * Write (LwM2M-TS-Core 1.1 §6.3.3): replace (PUT) or partial update (POST) of an object
 * instance or a resource (LwM2M 1.0 §8.2.4 Table 25; 1.1 adds resource-instance writes).
 */
import { Code } from '../../../coap/code.js';
import { CodecError } from '../../codec/codec-error.js';
import { encode } from '../../codec/lwm2m-codec.js';
import type { Lwm2mNode } from '../../node/lwm2m-node.js';
import type { Lwm2mPath } from '../../node/lwm2m-path.js';
import { Lwm2mError } from '../errors.js';
import { atLeast } from '../registration.js';
import {
  checkCode,
  errorMessageOf,
  Lwm2mResponse,
  type Operation,
  requireLevel,
  toPath,
  uriPath,
} from './operation.js';

export interface WriteRequest {
  readonly path: string | Lwm2mPath;
  /** `replace` sends PUT, `update` (partial update) sends POST. */
  readonly mode: 'replace' | 'update';
  /** The node at `path` (an object instance, a resource or a resource instance). */
  readonly content: Lwm2mNode;
  /** Format to encode in; default the device's format. */
  readonly format?: number;
}

export class WriteResponse extends Lwm2mResponse {}

// LwM2M 1.0 §8.2.4 Table 25: Write answers 2.04, 4.00, 4.01, 4.04, 4.05 (and 4.15, 1.1 §6.3.3).
export const WRITE_CODES = [
  Code.Changed,
  Code.BadRequest,
  Code.Unauthorized,
  Code.NotFound,
  Code.MethodNotAllowed,
  Code.UnsupportedContentFormat,
];

/** Encodes a node for a request; a node that the format cannot hold is the caller's error. */
export function encodeFor(
  content: Lwm2mNode,
  format: number,
  path: Lwm2mPath,
  model: Parameters<typeof encode>[3],
): Buffer {
  try {
    return encode(content, format, path, model);
  } catch (e) {
    if (e instanceof CodecError) {
      throw new Lwm2mError('LWM2M_ERR_INVALID_REQUEST', `${path}: ${e.message}`, { cause: e });
    }
    throw e;
  }
}

export const writeOperation: Operation<WriteRequest, WriteResponse> = {
  name: 'Write',
  minVersion: '1.0',
  build(request, device) {
    const path = toPath(request.path);
    // LwM2M-TS-Core 1.1 §6.3.3: Write targets an object instance, a resource or (1.1) a
    // resource instance; 1.0 §5.4.3 only the first two.
    const levels = atLeast(device.registration, '1.1') ? [2, 3, 4] : [2, 3];
    requireLevel('Write', path, levels, 'LwM2M-TS-Core 1.1 §6.3.3');
    if (request.mode === 'update' && !path.isObjectInstance()) {
      // LwM2M 1.0 §8.2.4 Table 25: a POST on a resource is Execute; a partial update of a
      // resource exists from 1.1 on (Transport 1.1 §6.4), for a multiple resource.
      const rm = device.model.getResource(path.objectId!, path.resourceId!);
      if (!atLeast(device.registration, '1.1') || !path.isResource() || rm?.multiple !== true) {
        throw new Lwm2mError(
          'LWM2M_ERR_INVALID_REQUEST',
          `Write: a partial update of ${path} is not possible (LwM2M-TS-Core 1.1 §6.3.3)`,
        );
      }
    }
    const expected = ['', 'object', 'object-instance', 'resource', 'resource-instance'][
      path.segments.length
    ];
    const kind = request.content.kind;
    const matches =
      kind === expected ||
      (expected === 'resource' && (kind === 'single-resource' || kind === 'multiple-resource'));
    if (!matches) {
      throw new Lwm2mError(
        'LWM2M_ERR_INVALID_REQUEST',
        `Write: a ${kind} cannot be written at ${path}`,
      );
    }
    const format = request.format ?? device.format;
    return {
      code: request.mode === 'replace' ? Code.Put : Code.Post,
      path: uriPath(device, path),
      contentFormat: format,
      payload: encodeFor(request.content, format, path, device.model),
    };
  },
  parse(response) {
    checkCode('Write', response.code, WRITE_CODES);
    return new WriteResponse(response.code, errorMessageOf(response));
  },
};
