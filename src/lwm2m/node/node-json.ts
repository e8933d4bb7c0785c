/**
 * Nodes and values as plain JSON (the API, the store, logs), and back. JSON has no bigint,
 * bytes or dates, so: integers past 2^53 are decimal strings, opaque is base64, time is
 * whole seconds since the epoch, object links are {objectId, instanceId}.
 */
import type { Lwm2mNode } from './lwm2m-node.js';
import {
  multipleResource,
  object,
  objectInstance,
  resourceInstance,
  singleResource,
} from './lwm2m-node.js';
import { type Lwm2mValue, timeToSeconds, Value, type ValueType } from './lwm2m-value.js';

export type JsonValue = string | number | boolean | { objectId: number; instanceId: number };

export type JsonNode =
  | { kind: 'object'; id: number; instances: JsonNode[] }
  | { kind: 'object-instance'; id: number; resources: JsonNode[] }
  | { kind: 'single-resource'; id: number; type: ValueType; value: JsonValue }
  | {
      kind: 'multiple-resource';
      id: number;
      type: ValueType;
      instances: Record<string, JsonValue>;
    }
  | { kind: 'resource-instance'; id: number; type: ValueType; value: JsonValue };

/** The JSON form of a value (see the module comment). */
export function valueToJson(v: Lwm2mValue): JsonValue {
  switch (v.type) {
    case 'integer':
    case 'unsigned':
      return typeof v.value === 'bigint' ? v.value.toString() : v.value;
    case 'opaque':
      return v.value.toString('base64');
    case 'time':
      return timeToSeconds(v.value);
    case 'objlnk':
      return { objectId: v.value.objectId, instanceId: v.value.instanceId };
    default:
      return v.value;
  }
}

/**
 * A value of `type` from its JSON form; also accepts the obvious alternatives a person types
 * (a number as a decimal string, an ISO date for a time, "3:0" for an object link).
 * Throws RangeError or TypeError when the JSON does not fit the type.
 */
export function valueFromJson(type: ValueType, json: unknown): Lwm2mValue {
  const bad = () => new TypeError(`${JSON.stringify(json)} is not a ${type}`);
  switch (type) {
    case 'string':
    case 'corelnk':
      if (typeof json !== 'string') throw bad();
      return type === 'string' ? Value.string(json) : Value.corelnk(json);
    case 'integer':
    case 'unsigned': {
      let n: number | bigint;
      if (typeof json === 'number') n = json;
      else if (typeof json === 'string' && /^-?\d{1,20}$/.test(json)) n = BigInt(json);
      else throw bad();
      return type === 'integer' ? Value.integer(n) : Value.unsigned(n);
    }
    case 'float': {
      const n = typeof json === 'string' && json.trim() !== '' ? Number(json) : json;
      if (typeof n !== 'number' || !Number.isFinite(n)) throw bad();
      return Value.float(n);
    }
    case 'boolean':
      if (typeof json !== 'boolean') throw bad();
      return Value.boolean(json);
    case 'opaque':
      if (typeof json !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(json)) throw bad();
      return Value.opaque(Buffer.from(json, 'base64'));
    case 'time':
      if (typeof json === 'number' && Number.isInteger(json)) return Value.time(json);
      if (typeof json === 'string' && !Number.isNaN(Date.parse(json))) {
        return Value.time(new Date(Math.floor(Date.parse(json) / 1000) * 1000));
      }
      throw bad();
    case 'objlnk': {
      if (typeof json === 'string') {
        const m = /^(\d{1,5}):(\d{1,5})$/.exec(json);
        if (!m) throw bad();
        return Value.objlnk(Number(m[1]), Number(m[2]));
      }
      const o = json as { objectId?: unknown; instanceId?: unknown } | null;
      if (typeof o?.objectId !== 'number' || typeof o.instanceId !== 'number') throw bad();
      return Value.objlnk(o.objectId, o.instanceId);
    }
  }
}

/** The JSON form of a node. */
export function nodeToJson(node: Lwm2mNode): JsonNode {
  switch (node.kind) {
    case 'object':
      return {
        kind: 'object',
        id: node.id,
        instances: [...node.instances.values()].map(nodeToJson),
      };
    case 'object-instance':
      return {
        kind: 'object-instance',
        id: node.id,
        resources: [...node.resources.values()].map(nodeToJson),
      };
    case 'single-resource':
    case 'resource-instance':
      return {
        kind: node.kind,
        id: node.id,
        type: node.value.type,
        value: valueToJson(node.value),
      };
    case 'multiple-resource': {
      const instances: Record<string, JsonValue> = {};
      for (const [id, ri] of node.instances) instances[id] = valueToJson(ri.value);
      return { kind: 'multiple-resource', id: node.id, type: node.type, instances };
    }
  }
}

/** A node from its JSON form (throws RangeError/TypeError on a malformed one). */
export function nodeFromJson(json: JsonNode): Lwm2mNode {
  switch (json.kind) {
    case 'object':
      return object(
        json.id,
        json.instances.map((i) => {
          const n = nodeFromJson(i);
          if (n.kind !== 'object-instance') throw new TypeError('an object holds instances');
          return n;
        }),
      );
    case 'object-instance':
      return objectInstance(
        json.id,
        json.resources.map((r) => {
          const n = nodeFromJson(r);
          if (n.kind !== 'single-resource' && n.kind !== 'multiple-resource') {
            throw new TypeError('an object instance holds resources');
          }
          return n;
        }),
      );
    case 'single-resource':
      return singleResource(json.id, valueFromJson(json.type, json.value));
    case 'resource-instance':
      return resourceInstance(json.id, valueFromJson(json.type, json.value));
    case 'multiple-resource':
      return multipleResource(
        json.id,
        json.type,
        Object.entries(json.instances).map(([id, v]) =>
          resourceInstance(Number(id), valueFromJson(json.type, v)),
        ),
      );
    default:
      throw new TypeError(`unknown node kind ${(json as { kind: unknown }).kind}`);
  }
}
