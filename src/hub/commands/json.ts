/**
 * The JSON shapes of LwM2M nodes in the API and on the bridge topics (the contract of issue 6;
 * extend, don't break):
 * - a resource: `{"path":"/3303/0/5700","value":21.5,"type":"float","unit":"Cel","name":"Sensor Value"}`,
 *   a multiple resource `"values":{"0":...}` instead of `"value"`;
 * - an object instance: `{"path":"/3/0","name":"Device","resources":{"0":{...}}}`;
 * - an object: `{"path":"/3","name":"Device","instances":{"0":{...}}}`.
 * Values are `valueToJson`'s: opaque in base64, time in seconds since the epoch, integers past
 * 2^53 as decimal strings, object links as `{"objectId","instanceId"}`.
 */
import { ContentFormat } from '../../lwm2m/codec/content-format.js';
import type { Lwm2mModel, ResourceModel } from '../../lwm2m/model/object-model.js';
import {
  type Lwm2mNode,
  type Lwm2mResource,
  multipleResource,
  objectInstance,
  resourceInstance,
  singleResource,
} from '../../lwm2m/node/lwm2m-node.js';
import { Lwm2mPath } from '../../lwm2m/node/lwm2m-path.js';
import type { Lwm2mValue, ValueType } from '../../lwm2m/node/lwm2m-value.js';
import { type JsonValue, valueFromJson, valueToJson } from '../../lwm2m/node/node-json.js';
import type { Lwm2mPathValue } from '../../lwm2m/node/path-value.js';
import { DeviceOperationError } from './errors.js';

export interface ResourceJson {
  path: string;
  value?: JsonValue;
  values?: Record<string, JsonValue>;
  type: ValueType;
  unit?: string;
  name?: string;
}

export interface InstanceJson {
  path: string;
  name?: string;
  resources: Record<string, ResourceJson>;
}

export interface ObjectJson {
  path: string;
  name?: string;
  instances: Record<string, InstanceJson>;
}

export type NodeJson = ResourceJson | InstanceJson | ObjectJson;

/** Every LwM2M value type, as the API names them (request validation and the JSON schemas). */
export const VALUE_TYPES: readonly ValueType[] = [
  'string',
  'integer',
  'unsigned',
  'float',
  'boolean',
  'opaque',
  'time',
  'objlnk',
  'corelnk',
];

/** The unit of a resource path (the registry's, or an IPSO sensor's 5701: see lwm2m-units.ts). */
export type UnitOf = (path: Lwm2mPath) => string | undefined;

/** `unit` and `name` of a resource, when known. */
function described(
  path: Lwm2mPath,
  model: Lwm2mModel,
  unitOf: UnitOf | undefined,
): { unit?: string; name?: string } {
  const rm: ResourceModel | undefined = model.getResource(path.objectId!, path.resourceId!);
  const unit = unitOf ? unitOf(path) : rm?.units;
  return { ...(unit ? { unit } : {}), ...(rm ? { name: rm.name } : {}) };
}

/** One value at a resource or resource-instance path (the bridge's data payload). */
export function leafJson(
  path: Lwm2mPath,
  value: Lwm2mValue,
  model: Lwm2mModel,
  unitOf?: UnitOf,
): ResourceJson {
  return {
    path: path.toString(),
    value: valueToJson(value),
    type: value.type,
    ...described(path, model, unitOf),
  };
}

/** The JSON of the node read at `path`. */
export function nodeJson(
  node: Lwm2mNode,
  path: Lwm2mPath,
  model: Lwm2mModel,
  unitOf?: UnitOf,
): NodeJson {
  switch (node.kind) {
    case 'single-resource':
    case 'resource-instance':
      return leafJson(path, node.value, model, unitOf);
    case 'multiple-resource': {
      const values: Record<string, JsonValue> = {};
      for (const [id, ri] of node.instances) values[id] = valueToJson(ri.value);
      return {
        path: path.toString(),
        values,
        type: node.type,
        ...described(path, model, unitOf),
      };
    }
    case 'object-instance': {
      const resources: Record<string, ResourceJson> = {};
      for (const [id, r] of node.resources) {
        resources[id] = nodeJson(r, path.append(id), model, unitOf) as ResourceJson;
      }
      const name = model.getObject(path.objectId!)?.name;
      return { path: path.toString(), ...(name ? { name } : {}), resources };
    }
    case 'object': {
      const instances: Record<string, InstanceJson> = {};
      for (const [id, i] of node.instances) {
        instances[id] = nodeJson(i, path.append(id), model, unitOf) as InstanceJson;
      }
      const name = model.getObject(path.objectId!)?.name;
      return { path: path.toString(), ...(name ? { name } : {}), instances };
    }
  }
}

function invalid(message: string, field?: string): DeviceOperationError {
  return new DeviceOperationError('TANDEM_ERR_VALIDATION', message, field ? { field } : {});
}

const isPlainObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x);

/** The type of the resource at `path`: the model's, else the one the body gave. */
function typeOf(path: Lwm2mPath, model: Lwm2mModel, given: unknown, field: string): ValueType {
  if (given !== undefined) {
    if (!VALUE_TYPES.includes(given as ValueType)) {
      throw invalid(`${field}: type must be one of ${VALUE_TYPES.join(', ')}`, field);
    }
    return given as ValueType;
  }
  const rm = model.getResource(path.objectId!, path.resourceId!);
  if (!rm) {
    throw invalid(
      `${path} is not in the device's object model: give its "type" (${VALUE_TYPES.join(', ')})`,
      field,
    );
  }
  if (rm.type === 'none') throw invalid(`${path} is executable, it has no value`, field);
  return rm.type;
}

function value(type: ValueType, json: unknown, field: string): Lwm2mValue {
  try {
    return valueFromJson(type, json);
  } catch (e) {
    throw invalid(`${field}: ${(e as Error).message}`, field);
  }
}

function ri(id: string, field: string): number {
  if (!/^(0|[1-9]\d{0,4})$/.test(id) || Number(id) > 65535) {
    throw invalid(`${field}: "${id}" is not an id 0..65535`, field);
  }
  return Number(id);
}

/**
 * One resource of an instance body or a create body: a plain value, `{"<ri>": v}` for a
 * multiple resource, or the read shape `{"value": v}` / `{"values": {...}}` (with an optional
 * `"type"` for a resource the model does not know).
 */
function resourceFrom(
  path: Lwm2mPath,
  json: unknown,
  model: Lwm2mModel,
  field: string,
): Lwm2mResource {
  const id = path.resourceId!;
  const readShape = isPlainObject(json) && ('value' in json || 'values' in json);
  const given = readShape ? json.type : undefined;
  const type = typeOf(path, model, given, field);
  const multiple = readShape
    ? 'values' in json
    : (model.getResource(path.objectId!, id)?.multiple ?? false);
  const raw = readShape ? (multiple ? json.values : json.value) : json;
  if (!multiple) return singleResource(id, value(type, raw, field));
  if (!isPlainObject(raw)) {
    throw invalid(`${field}: ${path} is a multiple resource: give {"<instance>": value}`, field);
  }
  return multipleResource(
    id,
    type,
    Object.entries(raw).map(([k, v]) =>
      resourceInstance(ri(k, `${field}.${k}`), value(type, v, `${field}.${k}`)),
    ),
  );
}

/** The resources of `{"resources":{"<id>": ...}}` in the instance at `instancePath`. */
export function resourcesFrom(
  instancePath: Lwm2mPath,
  resources: unknown,
  model: Lwm2mModel,
): Lwm2mResource[] {
  if (!isPlainObject(resources)) {
    throw invalid('resources must be an object of resource id → value', 'resources');
  }
  return Object.entries(resources).map(([k, v]) =>
    resourceFrom(instancePath.append(ri(k, `resources.${k}`)), v, model, `resources.${k}`),
  );
}

/**
 * The node a write body stands for at `path`: `{"resources":{...}}` for an instance,
 * `{"value": v}` or `{"values":{...}}` for a resource, `{"value": v}` for a resource instance.
 */
export function nodeFromBody(path: Lwm2mPath, body: unknown, model: Lwm2mModel): Lwm2mNode {
  if (!isPlainObject(body)) throw invalid('the body must be a JSON object');
  if (path.isObjectInstance()) {
    if (!('resources' in body)) throw invalid('an instance write needs "resources"', 'resources');
    return objectInstance(path.instanceId!, resourcesFrom(path, body.resources, model));
  }
  if (path.isResource()) {
    if (!('value' in body) && !('values' in body)) {
      throw invalid('a resource write needs "value" or "values"', 'value');
    }
    return resourceFrom(path, body, model, 'value' in body ? 'value' : 'values');
  }
  if (path.isResourceInstance()) {
    if (!('value' in body)) throw invalid('a resource instance write needs "value"', 'value');
    const type = typeOf(path, model, body.type, 'value');
    return resourceInstance(path.resourceInstanceId!, value(type, body.value, 'value'));
  }
  throw invalid(`${path} cannot be written: write an instance, a resource or a resource instance`);
}

/**
 * The path-values of a Write-Composite body `{"values":{"/3/0/14":"+01:00","/3/0/6":{"0":1}}}`:
 * a resource path takes a value (a `{"<ri>": v}` object for a multiple resource), a
 * resource-instance path a value.
 */
export function compositeValuesFrom(values: unknown, model: Lwm2mModel): Lwm2mPathValue[] {
  if (!isPlainObject(values) || Object.keys(values).length === 0) {
    throw invalid('values must be an object of path → value', 'values');
  }
  const out: Lwm2mPathValue[] = [];
  for (const [p, v] of Object.entries(values)) {
    const path = Lwm2mPath.tryParse(p);
    const field = `values.${p}`;
    if (!path || !(path.isResource() || path.isResourceInstance())) {
      throw invalid(`${field}: not a resource or resource-instance path`, field);
    }
    if (path.isResourceInstance()) {
      out.push({ path, value: value(typeOf(path, model, undefined, field), v, field) });
      continue;
    }
    const resource = resourceFrom(path, v, model, field);
    if (resource.kind === 'single-resource') out.push({ path, value: resource.value });
    else
      for (const [id, r] of resource.instances) out.push({ path: path.append(id), value: r.value });
  }
  return out;
}

/** Content formats by the names `?format=` takes. */
export const FORMAT_NAMES: Readonly<Record<string, number>> = {
  text: ContentFormat.TEXT,
  opaque: ContentFormat.OPAQUE,
  cbor: ContentFormat.CBOR,
  'senml-json': ContentFormat.SENML_JSON,
  'senml-cbor': ContentFormat.SENML_CBOR,
  tlv: ContentFormat.TLV,
  'old-tlv': ContentFormat.OLD_TLV,
  json: ContentFormat.JSON,
  'old-json': ContentFormat.OLD_JSON,
  'lwm2m-cbor': ContentFormat.LWM2M_CBOR,
};

const KNOWN_FORMATS = new Set(Object.values(FORMAT_NAMES));

/** `?format=`: a name of FORMAT_NAMES or a content-format number that LwM2M uses. */
export function parseFormat(text: string | number | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const named = FORMAT_NAMES[String(text).toLowerCase()];
  if (named !== undefined) return named;
  const n = Number(text);
  if (Number.isInteger(n) && KNOWN_FORMATS.has(n)) return n;
  throw invalid(
    `format "${text}" is not one of ${Object.keys(FORMAT_NAMES).join(', ')} or their numbers`,
    'format',
  );
}
