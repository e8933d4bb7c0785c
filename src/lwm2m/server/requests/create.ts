/**
 * Create (LwM2M-TS-Core 1.1 §6.3.6; LwM2M 1.0 §8.2.4 Table 25: POST on an object, payload the
 * new instance, 2.01 with Location-Path of the new instance when the client chose its ID).
 */
import { Code } from '../../../coap/code.js';
import { ContentFormat } from '../../codec/content-format.js';
import { type Lwm2mResource, object, objectInstance } from '../../node/lwm2m-node.js';
import { Lwm2mPath } from '../../node/lwm2m-path.js';
import { Lwm2mError } from '../errors.js';
import { checkCode, errorMessageOf, Lwm2mResponse, type Operation, uriPath } from './operation.js';
import { encodeFor } from './write.js';

export interface CreateRequest {
  readonly objectId: number;
  /** The new instance's ID; absent lets the client choose (LwM2M-TS-Core 1.1 §6.3.6). */
  readonly instanceId?: number;
  readonly resources: readonly Lwm2mResource[];
  readonly format?: number;
}

export class CreateResponse extends Lwm2mResponse {
  constructor(
    code: number,
    /** Path of the created instance, from Location-Path or the request. */
    readonly location?: string,
    errorMessage?: string,
  ) {
    super(code, errorMessage);
  }
}

// LwM2M 1.0 §8.2.4 Table 25: Create answers 2.01, 4.00, 4.01, 4.04, 4.05 (4.15, 1.1 §6.3.6).
export const CREATE_CODES = [
  Code.Created,
  Code.BadRequest,
  Code.Unauthorized,
  Code.NotFound,
  Code.MethodNotAllowed,
  Code.UnsupportedContentFormat,
];

export const createOperation: Operation<CreateRequest, CreateResponse> = {
  name: 'Create',
  minVersion: '1.0',
  build(request, device) {
    let objectPath: Lwm2mPath;
    try {
      objectPath = new Lwm2mPath(request.objectId);
      if (request.instanceId !== undefined) objectPath.append(request.instanceId);
    } catch (e) {
      throw new Lwm2mError('LWM2M_ERR_INVALID_REQUEST', `Create: ${(e as Error).message}`);
    }
    // LwM2M-TS-Core 1.1 §7.1: 65535 is reserved and is not an instance ID.
    if (request.instanceId === 65535) {
      throw new Lwm2mError('LWM2M_ERR_INVALID_REQUEST', 'Create: instance ID 65535 is reserved');
    }
    const format = request.format ?? device.format;
    let payload: Buffer;
    if (request.instanceId !== undefined) {
      // The instance inside its object: TLV wraps it in an object instance TLV, SenML names
      // every resource with its full path (LwM2M-TS-Core 1.1 §7.4.3, §7.4.4).
      const node = object(request.objectId, [
        objectInstance(request.instanceId, request.resources),
      ]);
      payload = encodeFor(node, format, objectPath, device.model);
    } else {
      if (format !== ContentFormat.TLV && format !== ContentFormat.OLD_TLV) {
        // SenML paths always name the instance, so only TLV can leave the choice to the client.
        throw new Lwm2mError(
          'LWM2M_ERR_INVALID_REQUEST',
          'Create without an instance ID needs TLV',
        );
      }
      // LwM2M 1.0 §6.4.3.1: the resources alone, without an object instance TLV.
      const node = objectInstance(0, request.resources);
      payload = encodeFor(node, format, objectPath.append(0), device.model);
    }
    return { code: Code.Post, path: uriPath(device, objectPath), contentFormat: format, payload };
  },
  parse(response, request) {
    checkCode('Create', response.code, CREATE_CODES);
    if (response.code !== Code.Created) {
      return new CreateResponse(response.code, undefined, errorMessageOf(response));
    }
    const location =
      response.locationPath.length > 0
        ? `/${response.locationPath.join('/')}`
        : request.instanceId !== undefined
          ? `/${request.objectId}/${request.instanceId}`
          : undefined;
    return new CreateResponse(response.code, location);
  },
};
