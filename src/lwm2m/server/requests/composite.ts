/** What the composite operations share: the SenML path list of a FETCH and its decoding. */
import type { CoapResponse } from '../../../coap/request.js';
import { CodecError } from '../../codec/codec-error.js';
import { decodeComposite, encodeComposite } from '../../codec/lwm2m-codec.js';
import type { Lwm2mNode } from '../../node/lwm2m-node.js';
import type { Lwm2mPath } from '../../node/lwm2m-path.js';
import { groupByPaths, type Lwm2mPathValue } from '../../node/path-value.js';
import { Lwm2mError } from '../errors.js';
import { type DeviceContext, toPath } from './operation.js';

export function compositePaths(
  paths: readonly (string | Lwm2mPath)[],
  operation: string,
): Lwm2mPath[] {
  if (paths.length === 0) {
    throw new Lwm2mError('LWM2M_ERR_INVALID_REQUEST', `${operation}: no path`);
  }
  return paths.map(toPath);
}

/** LwM2M-TS-Core 1.1 §6.3.8: the FETCH payload lists the paths, each a record without value. */
export function encodePathList(
  paths: readonly Lwm2mPath[],
  format: number,
  device: DeviceContext,
): Buffer {
  try {
    return encodeComposite(
      paths.map((path) => ({ path })),
      format,
      device.model,
    );
  } catch (e) {
    if (e instanceof CodecError)
      throw new Lwm2mError('LWM2M_ERR_INVALID_REQUEST', e.message, { cause: e });
    throw e;
  }
}

export function encodeValues(
  values: readonly Lwm2mPathValue[],
  format: number,
  device: DeviceContext,
): Buffer {
  try {
    return encodeComposite(values, format, device.model);
  } catch (e) {
    if (e instanceof CodecError)
      throw new Lwm2mError('LWM2M_ERR_INVALID_REQUEST', e.message, { cause: e });
    throw e;
  }
}

/** Decodes a composite answer into one node per requested path (undefined where absent). */
export function decodeCompositeContent(
  response: CoapResponse,
  paths: readonly Lwm2mPath[],
  device: DeviceContext,
  requested: number,
): Map<string, Lwm2mNode | undefined> {
  const format = response.contentFormat ?? requested;
  try {
    const values = decodeComposite(response.payload, format, device.model);
    const multiple = (o: number, r: number) => device.model.getResource(o, r)?.multiple ?? false;
    return groupByPaths(paths, values, multiple);
  } catch (e) {
    if (e instanceof Lwm2mError) throw e;
    throw new Lwm2mError('LWM2M_ERR_BAD_PAYLOAD', `composite answer: ${(e as Error).message}`, {
      cause: e,
    });
  }
}
