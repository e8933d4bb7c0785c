import type { Lwm2mValue, ValueType } from './lwm2m-value.js';

/**
 * The object tree as nodes, in the shape of LwM2M-TS-Core 1.1 §6.1: an object holds object
 * instances, an instance holds resources, a multiple resource holds resource instances.
 * Child maps are keyed by id and kept in ascending id order by the builders below.
 */
export interface Lwm2mResourceInstance {
  readonly kind: 'resource-instance';
  readonly id: number;
  readonly value: Lwm2mValue;
}

export interface Lwm2mSingleResource {
  readonly kind: 'single-resource';
  readonly id: number;
  readonly value: Lwm2mValue;
}

export interface Lwm2mMultipleResource {
  readonly kind: 'multiple-resource';
  readonly id: number;
  /** The type of every instance (kept for an empty resource). */
  readonly type: ValueType;
  readonly instances: ReadonlyMap<number, Lwm2mResourceInstance>;
}

export type Lwm2mResource = Lwm2mSingleResource | Lwm2mMultipleResource;

export interface Lwm2mObjectInstance {
  readonly kind: 'object-instance';
  readonly id: number;
  readonly resources: ReadonlyMap<number, Lwm2mResource>;
}

export interface Lwm2mObject {
  readonly kind: 'object';
  readonly id: number;
  readonly instances: ReadonlyMap<number, Lwm2mObjectInstance>;
}

export type Lwm2mNode =
  | Lwm2mObject
  | Lwm2mObjectInstance
  | Lwm2mSingleResource
  | Lwm2mMultipleResource
  | Lwm2mResourceInstance;

function byId<T extends { readonly id: number }>(items: Iterable<T>, what: string): Map<number, T> {
  const sorted = [...items].sort((a, b) => a.id - b.id);
  const map = new Map<number, T>();
  for (const item of sorted) {
    if (map.has(item.id)) throw new RangeError(`${what} ${item.id} appears twice`);
    map.set(item.id, item);
  }
  return map;
}

function checkId(id: number): number {
  if (!Number.isInteger(id) || id < 0 || id > 65535) throw new RangeError(`id ${id} not 0..65535`);
  return id;
}

export function resourceInstance(id: number, value: Lwm2mValue): Lwm2mResourceInstance {
  return { kind: 'resource-instance', id: checkId(id), value };
}

export function singleResource(id: number, value: Lwm2mValue): Lwm2mSingleResource {
  return { kind: 'single-resource', id: checkId(id), value };
}

/** A multiple resource from resource instances or [id, value] pairs; every value of `type`. */
export function multipleResource(
  id: number,
  type: ValueType,
  instances: Iterable<Lwm2mResourceInstance | readonly [number, Lwm2mValue]>,
): Lwm2mMultipleResource {
  const list = [...instances].map((x) =>
    Array.isArray(x)
      ? resourceInstance(x[0] as number, x[1] as Lwm2mValue)
      : (x as Lwm2mResourceInstance),
  );
  for (const ri of list) {
    if (ri.value.type !== type) {
      throw new TypeError(`resource instance ${ri.id} is ${ri.value.type}, resource is ${type}`);
    }
  }
  return {
    kind: 'multiple-resource',
    id: checkId(id),
    type,
    instances: byId(list, 'resource instance'),
  };
}

export function objectInstance(
  id: number,
  resources: Iterable<Lwm2mResource>,
): Lwm2mObjectInstance {
  return { kind: 'object-instance', id: checkId(id), resources: byId(resources, 'resource') };
}

export function object(id: number, instances: Iterable<Lwm2mObjectInstance>): Lwm2mObject {
  return { kind: 'object', id: checkId(id), instances: byId(instances, 'object instance') };
}

/** True for the two resource kinds. */
export function isResource(node: Lwm2mNode): node is Lwm2mResource {
  return node.kind === 'single-resource' || node.kind === 'multiple-resource';
}
