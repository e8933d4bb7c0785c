/**
 * Write-Attributes (LwM2M-TS-Core 1.1 §6.3.4; LwM2M 1.0 §8.2.4 Table 25: PUT with the attributes
 * as Uri-Query and no payload). The attributes are those of LwM2M-TS-Core 1.1 §5.1.2
 * (Table 5.1.2-1) and 1.2 §5.1.2: pmin, pmax, gt, lt, st, epmin, epmax, edge, con, hqmax.
 */
import { Code } from '../../../coap/code.js';
import type { Lwm2mPath } from '../../node/lwm2m-path.js';
import { Lwm2mError } from '../errors.js';
import { atLeast, type Lwm2mVersion } from '../registration.js';
import {
  checkCode,
  errorMessageOf,
  Lwm2mResponse,
  type Operation,
  requireLevel,
  toPath,
  uriPath,
} from './operation.js';

/**
 * Notification attributes. A number sets an attribute; `null` removes it (an attribute name
 * without a value, LwM2M-TS-Core 1.1 §5.1.1); an absent key leaves it as it is.
 */
export interface NotificationAttributes {
  readonly pmin?: number | null;
  readonly pmax?: number | null;
  readonly gt?: number | null;
  readonly lt?: number | null;
  readonly st?: number | null;
  readonly epmin?: number | null;
  readonly epmax?: number | null;
  readonly edge?: 0 | 1 | null;
  readonly con?: 0 | 1 | null;
  readonly hqmax?: number | null;
}

export type AttributeName = keyof NotificationAttributes;

/** Attribute order on the wire, and the LwM2M version that introduced each. */
export const ATTRIBUTES: readonly { name: AttributeName; since: Lwm2mVersion; integer: boolean }[] =
  [
    { name: 'pmin', since: '1.0', integer: true },
    { name: 'pmax', since: '1.0', integer: true },
    { name: 'gt', since: '1.0', integer: false },
    { name: 'lt', since: '1.0', integer: false },
    { name: 'st', since: '1.0', integer: false },
    // LwM2M-TS-Core 1.1 §5.1.2: epmin and epmax are new in 1.1.
    { name: 'epmin', since: '1.1', integer: true },
    { name: 'epmax', since: '1.1', integer: true },
    // LwM2M-TS-Core 1.2 §5.1.2: edge, con and hqmax are new in 1.2.
    { name: 'edge', since: '1.2', integer: true },
    { name: 'con', since: '1.2', integer: true },
    { name: 'hqmax', since: '1.2', integer: true },
  ];

export interface WriteAttributesRequest {
  readonly path: string | Lwm2mPath;
  readonly attributes: NotificationAttributes;
}

export class WriteAttributesResponse extends Lwm2mResponse {}

// LwM2M 1.0 §8.2.4 Table 25: Write-Attributes answers 2.04, 4.00, 4.01, 4.04, 4.05.
export const WRITE_ATTRIBUTES_CODES = [
  Code.Changed,
  Code.BadRequest,
  Code.Unauthorized,
  Code.NotFound,
  Code.MethodNotAllowed,
];

function invalid(message: string): Lwm2mError {
  return new Lwm2mError('LWM2M_ERR_INVALID_REQUEST', `Write-Attributes: ${message}`);
}

/** The Uri-Query items of a set of attributes, checked against LwM2M-TS-Core 1.1 §5.1.2. */
export function attributesQuery(
  attributes: NotificationAttributes,
  path: Lwm2mPath,
  version: Lwm2mVersion,
): string[] {
  const query: string[] = [];
  for (const { name, since, integer } of ATTRIBUTES) {
    const value = attributes[name];
    if (value === undefined) continue;
    if (!atLeast({ lwm2mVersion: version }, since)) {
      throw invalid(`'${name}' needs LwM2M ${since}, the device speaks ${version}`);
    }
    if (value === null) {
      query.push(name);
      continue;
    }
    if (!Number.isFinite(value)) throw invalid(`'${name}' must be a number`);
    if (integer && (!Number.isInteger(value) || value < 0)) {
      throw invalid(`'${name}' must be a non-negative integer`);
    }
    // LwM2M-TS-Core 1.2 §5.1.2: edge and con are 0 or 1.
    if ((name === 'edge' || name === 'con') && value !== 0 && value !== 1) {
      throw invalid(`'${name}' must be 0 or 1`);
    }
    // LwM2M-TS-Core 1.1 §5.1.2: the step is a positive value.
    if (name === 'st' && value < 0) throw invalid("'st' must not be negative");
    query.push(`${name}=${value}`);
  }
  const { gt, lt, st, pmin, pmax } = attributes;
  // LwM2M-TS-Core 1.1 §5.1.2: gt, lt and st apply to a resource (numeric) only.
  if (
    (typeof gt === 'number' || typeof lt === 'number' || typeof st === 'number') &&
    !path.isResource() &&
    !path.isResourceInstance()
  ) {
    throw invalid(`gt, lt and st apply to resources, not to ${path}`);
  }
  // LwM2M-TS-Core 1.1 §5.1.2: "lt" value < "gt" value, and "lt" + 2*"st" < "gt".
  if (typeof gt === 'number' && typeof lt === 'number') {
    if (!(lt < gt)) throw invalid('lt must be less than gt');
    if (typeof st === 'number' && !(lt + 2 * st < gt))
      throw invalid('lt + 2*st must be less than gt');
  }
  // LwM2M-TS-Core 1.1 §5.1.2: pmax, when present with pmin, is not less than pmin.
  if (typeof pmin === 'number' && typeof pmax === 'number' && pmax < pmin) {
    throw invalid('pmax must not be less than pmin');
  }
  if (query.length === 0) throw invalid('no attribute to write');
  return query;
}

export const writeAttributesOperation: Operation<WriteAttributesRequest, WriteAttributesResponse> =
  {
    name: 'Write-Attributes',
    minVersion: '1.0',
    build(request, device) {
      const path = toPath(request.path);
      // LwM2M-TS-Core 1.1 §6.3.4: attributes attach to an object, an instance or a resource
      // (1.1 also a resource instance).
      const levels = atLeast(device.registration, '1.1') ? [1, 2, 3, 4] : [1, 2, 3];
      requireLevel('Write-Attributes', path, levels, 'LwM2M-TS-Core 1.1 §6.3.4');
      const resource =
        path.isResource() || path.isResourceInstance()
          ? device.model.getResource(path.objectId!, path.resourceId!)
          : undefined;
      const a = request.attributes;
      const numeric = ['integer', 'unsigned', 'float'];
      if (
        resource &&
        (a.gt != null || a.lt != null || a.st != null) &&
        !numeric.includes(resource.type)
      ) {
        // LwM2M-TS-Core 1.1 §5.1.2: gt, lt and st are for numeric resources.
        throw invalid(`${path} is ${resource.type}, not numeric`);
      }
      // LwM2M-TS-Core 1.2 §5.1.2: edge is for boolean resources.
      if (resource && a.edge != null && resource.type !== 'boolean') {
        throw invalid(`${path} is ${resource.type}, not boolean`);
      }
      return {
        code: Code.Put,
        path: uriPath(device, path),
        query: attributesQuery(a, path, device.registration.lwm2mVersion),
      };
    },
    parse(response) {
      checkCode('Write-Attributes', response.code, WRITE_ATTRIBUTES_CODES);
      return new WriteAttributesResponse(response.code, errorMessageOf(response));
    },
  };
