/**
 * Observe and Observe-Composite (LwM2M-TS-Core 1.1 §6.4.1, §6.4.3; LwM2M 1.0 §8.2.5 Table 26:
 * GET with Observe=0 on a path; 1.1: FETCH with Observe=0 and the SenML path list), and
 * Cancel Observation (§6.4.2: GET with Observe=1, or an RST to the next notification).
 */
import { Code } from '../../../coap/code.js';
import type { RequestParams } from '../../../coap/request.js';
import type { Lwm2mNode } from '../../node/lwm2m-node.js';
import type { Lwm2mPath } from '../../node/lwm2m-path.js';
import { ROOT_PATH } from '../../node/lwm2m-path.js';
import { compositePaths, encodePathList } from './composite.js';
import {
  checkCode,
  type DeviceContext,
  Lwm2mResponse,
  requireLevel,
  toPath,
  uriPath,
} from './operation.js';

export interface ObserveRequest {
  readonly path: string | Lwm2mPath;
  readonly format?: number;
}

export interface ObserveCompositeRequest {
  readonly paths: readonly (string | Lwm2mPath)[];
  readonly format?: number;
}

/** An observation the device accepted, as the server keeps it. */
export interface Lwm2mObservation {
  /** Unique in this server: the CoAP token in hex. */
  readonly id: string;
  readonly registrationId: string;
  readonly endpoint: string;
  /** One path for Observe, several for Observe-Composite. */
  readonly paths: readonly string[];
  readonly composite: boolean;
  /** The format asked for with Accept. */
  readonly format: number;
  /** False once cancelled, ended by an error notification or by the registration's end. */
  readonly active: boolean;
}

export class ObserveResponse extends Lwm2mResponse {
  constructor(
    code: number,
    /** The current value, on 2.05 (Observe). */
    readonly content?: Lwm2mNode,
    /** The current values by path, on 2.05 (Observe-Composite). */
    readonly compositeContent?: ReadonlyMap<string, Lwm2mNode | undefined>,
    /** The observation, when the device accepted it (2.05 with an Observe option). */
    readonly observation?: Lwm2mObservation,
    errorMessage?: string,
  ) {
    super(code, errorMessage);
  }
}

export class CancelObservationResponse extends Lwm2mResponse {
  constructor(
    code: number,
    readonly content?: Lwm2mNode,
    errorMessage?: string,
  ) {
    super(code, errorMessage);
  }
}

// LwM2M 1.0 §8.2.5 Table 26: Observe answers 2.05, 4.00, 4.04, 4.05, 4.06 (4.01 with access
// control, LwM2M-TS-Core 1.1 §6.4.1).
export const OBSERVE_CODES = [
  Code.Content,
  Code.BadRequest,
  Code.Unauthorized,
  Code.NotFound,
  Code.MethodNotAllowed,
  Code.NotAcceptable,
];

// LwM2M-TS-Core 1.1 §6.4.3: Observe-Composite also answers 4.15 for an unsupported path list.
export const OBSERVE_COMPOSITE_CODES = [...OBSERVE_CODES, Code.UnsupportedContentFormat];

export function buildObserve(
  request: ObserveRequest,
  device: DeviceContext,
): {
  params: RequestParams;
  path: Lwm2mPath;
  format: number;
} {
  const path = toPath(request.path);
  // LwM2M-TS-Core 1.1 §6.4.1: an object, an instance, a resource or a resource instance.
  requireLevel('Observe', path, [1, 2, 3, 4], 'LwM2M-TS-Core 1.1 §6.4.1');
  const format = request.format ?? device.format;
  return { params: { code: Code.Get, path: uriPath(device, path), accept: format }, path, format };
}

export function buildObserveComposite(
  request: ObserveCompositeRequest,
  device: DeviceContext,
): {
  params: RequestParams;
  paths: Lwm2mPath[];
  format: number;
} {
  const paths = compositePaths(request.paths, 'Observe-Composite');
  const format = request.format ?? device.compositeFormat;
  return {
    params: {
      code: Code.Fetch,
      path: uriPath(device, ROOT_PATH),
      contentFormat: format,
      accept: format,
      payload: encodePathList(paths, format, device),
    },
    paths,
    format,
  };
}

export function checkObserveCode(composite: boolean, code: number): void {
  checkCode(
    composite ? 'Observe-Composite' : 'Observe',
    code,
    composite ? OBSERVE_COMPOSITE_CODES : OBSERVE_CODES,
  );
}
