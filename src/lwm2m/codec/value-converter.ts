import type { Lwm2mModel, ResourceModel } from '../model/object-model.js';
import type { Lwm2mNode } from '../node/lwm2m-node.js';
import type { Lwm2mPath } from '../node/lwm2m-path.js';
import {
  INT64_MAX,
  INT64_MIN,
  type Lwm2mValue,
  narrowInteger,
  timeToSeconds,
  UINT64_MAX,
  type ValueType,
} from '../node/lwm2m-value.js';
import { buildNode, type Lwm2mPathValue } from '../node/path-value.js';
import { CodecError } from './codec-error.js';

/** The model's definition of the resource at `path` (a resource or resource-instance path). */
export function resourceModelAt(model: Lwm2mModel, path: Lwm2mPath): ResourceModel | undefined {
  const [o, , r] = path.segments;
  if (o === undefined || r === undefined) return undefined;
  return model.getResource(o, r);
}

/** The value type the model gives the resource at `path`, if it knows one. */
export function modelType(model: Lwm2mModel, path: Lwm2mPath): ValueType | undefined {
  return valueTypeOf(resourceModelAt(model, path));
}

/** The value type of a resource model, if it has one (Execute resources have none). */
export function valueTypeOf(resource: ResourceModel | undefined): ValueType | undefined {
  const t = resource?.type;
  return t === undefined || t === 'none' ? undefined : t;
}

function integerOf(v: Lwm2mValue): bigint | undefined {
  switch (v.type) {
    case 'integer':
    case 'unsigned':
      return BigInt(v.value);
    case 'time':
      return BigInt(timeToSeconds(v.value));
    case 'float':
      return Number.isInteger(v.value) ? BigInt(v.value) : undefined;
    default:
      return undefined;
  }
}

/**
 * Converts `value` to `target` when that loses nothing (an integer into a float resource, a
 * float with no fraction into an integer one, seconds into a time), so an encoder writes what
 * the model says (LwM2M-TS-Core 1.1 Appendix C). Anything else is a TYPE_MISMATCH.
 */
export function convertValue(value: Lwm2mValue, target: ValueType, path: Lwm2mPath): Lwm2mValue {
  if (value.type === target) return value;
  const mismatch = () =>
    new CodecError('TYPE_MISMATCH', `${path}: a ${value.type} value for a ${target} resource`);
  switch (target) {
    case 'integer': {
      const i = integerOf(value);
      if (i === undefined) throw mismatch();
      if (i < INT64_MIN || i > INT64_MAX) {
        throw new CodecError('VALUE_OUT_OF_RANGE', `${path}: ${i} is outside a 64-bit integer`);
      }
      return { type: 'integer', value: narrowInteger(i) };
    }
    case 'unsigned': {
      const i = integerOf(value);
      if (i === undefined) throw mismatch();
      if (i < 0n || i > UINT64_MAX) {
        throw new CodecError('VALUE_OUT_OF_RANGE', `${path}: ${i} is outside an unsigned integer`);
      }
      return { type: 'unsigned', value: narrowInteger(i) };
    }
    case 'float': {
      if (value.type === 'integer' || value.type === 'unsigned') {
        return { type: 'float', value: Number(value.value) };
      }
      throw mismatch();
    }
    case 'time': {
      const i = integerOf(value);
      if (i === undefined || value.type === 'float') throw mismatch();
      const d = new Date(Number(i) * 1000);
      // A Date spans ±8.64e12 seconds; a 64-bit time beyond that has no date.
      if (Number.isNaN(d.getTime())) {
        throw new CodecError('VALUE_OUT_OF_RANGE', `${path}: time ${i} is not a date`);
      }
      return { type: 'time', value: d };
    }
    case 'corelnk':
      if (value.type === 'string') return { type: 'corelnk', value: value.value };
      throw mismatch();
    case 'string':
      if (value.type === 'corelnk') return { type: 'string', value: value.value };
      throw mismatch();
    default:
      throw mismatch();
  }
}

/** Converts to the model's type at `path` when the model knows the resource. */
export function toModelType(model: Lwm2mModel, path: Lwm2mPath, value: Lwm2mValue): Lwm2mValue {
  const t = modelType(model, path);
  return t === undefined ? value : convertValue(value, t, path);
}

/**
 * The node at `path` from the leaves a payload decoded to (SenML, LwM2M CBOR): every leaf must
 * be under `path` and have a value; the model tells single from multiple resources and types
 * empty multiple resources.
 */
export function nodeFromLeaves(
  path: Lwm2mPath,
  model: Lwm2mModel,
  format: string,
  decodeLeaves: () => readonly Lwm2mPathValue[],
): Lwm2mNode {
  if (path.isRoot())
    throw new CodecError('INVALID_PATH', `${format} cannot decode the root as a node`);
  const leaves = decodeLeaves();
  for (const l of leaves) {
    if (!l.path.startsWith(path)) {
      throw new CodecError('INVALID_PATH', `${l.path} is not under ${path}`);
    }
    if (l.value === undefined) throw new CodecError('MALFORMED', `${l.path} has no value`);
  }
  let node: Lwm2mNode | undefined;
  try {
    node = buildNode(path, leaves, model);
  } catch (e) {
    throw new CodecError('UNEXPECTED_NODE', `${path}: ${(e as Error).message}`, { cause: e });
  }
  if (!node) throw new CodecError('UNEXPECTED_NODE', `${path}: no value in the payload`);
  return node;
}
