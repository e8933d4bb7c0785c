import {
  type Lwm2mNode,
  type Lwm2mObject,
  type Lwm2mObjectInstance,
  type Lwm2mResource,
  multipleResource,
  object,
  objectInstance,
  resourceInstance,
  singleResource,
} from './lwm2m-node.js';
import type { Lwm2mPath } from './lwm2m-path.js';
import type { Lwm2mValue, ValueType } from './lwm2m-value.js';

/**
 * One leaf of a composite payload (Read-Composite, Write-Composite, Send, Observe-Composite):
 * a resource or resource-instance path and its value. `value` is absent for a path without
 * a value (a Read-Composite request; a Write-Composite entry that deletes, LwM2M-TS-Core 1.1
 * §7.4.4). `time` is seconds since the epoch when the payload carried a timestamp; as in
 * RFC 8428 §4.5.3 a time below 2^28 is relative to now (`resolveTime`).
 */
export interface Lwm2mPathValue {
  readonly path: Lwm2mPath;
  readonly value?: Lwm2mValue;
  readonly time?: number;
}

const NODE_DEPTH: Record<Lwm2mNode['kind'], number> = {
  object: 1,
  'object-instance': 2,
  'single-resource': 3,
  'multiple-resource': 3,
  'resource-instance': 4,
};

/**
 * The leaves under `node` at `path`, depth-first in id order. `path` is the node's own path,
 * or its parent's (the node's id is then appended). Throws RangeError for any other path.
 */
export function flattenNode(node: Lwm2mNode, path: Lwm2mPath): Lwm2mPathValue[] {
  const out: Lwm2mPathValue[] = [];
  // A node given at its parent's path (an object instance sent to /3 by a Create) sits one
  // level further down: its own id completes the path.
  const depth = NODE_DEPTH[node.kind];
  if (path.segments.length === depth - 1) path = path.append(node.id);
  else if (path.segments.length !== depth) {
    throw new RangeError(`a ${node.kind} cannot sit at ${path}`);
  }
  const visit = (n: Lwm2mNode, p: Lwm2mPath): void => {
    switch (n.kind) {
      case 'object':
        for (const i of n.instances.values()) visit(i, p.append(i.id));
        return;
      case 'object-instance':
        for (const r of n.resources.values()) visit(r, p.append(r.id));
        return;
      case 'multiple-resource':
        for (const ri of n.instances.values()) visit(ri, p.append(ri.id));
        return;
      case 'single-resource':
      case 'resource-instance':
        out.push({ path: p, value: n.value });
        return;
    }
  };
  visit(node, path);
  return out;
}

/** Says which resources are multiple: a predicate, or a model (which also gives types). */
export type NodeShape =
  | ((objectId: number, resourceId: number) => boolean)
  | {
      getResource(
        objectId: number,
        resourceId: number,
      ): { readonly multiple: boolean; readonly type: string } | undefined;
    };

/**
 * Rebuilds the node at `path` from leaves (all at or below `path`). A resource whose leaves
 * are resource instances becomes a multiple resource. `shape` tells multiple resources apart
 * when their instances are all absent; given a model, it also refuses a single value for a
 * multiple resource and instances for a single one (resources the model does not know are
 * taken as they come), types empty multiple resources, and gives an empty multiple resource
 * for a multiple-resource path without leaves. Returns undefined when nothing is below.
 * Throws RangeError/TypeError when leaves conflict (the codecs turn that into a CodecError).
 */
export function buildNode(
  path: Lwm2mPath,
  leaves: Iterable<Lwm2mPathValue>,
  shape?: NodeShape,
): Lwm2mNode | undefined {
  const describe = (o: number, r: number): { multiple?: boolean; type?: ValueType } => {
    if (shape === undefined) return {};
    if (typeof shape === 'function') return { multiple: shape(o, r) };
    const rm = shape.getResource(o, r);
    if (!rm) return {};
    return { multiple: rm.multiple, ...(rm.type !== 'none' ? { type: rm.type as ValueType } : {}) };
  };
  const strict = shape !== undefined && typeof shape !== 'function';
  // object → instance → resource → (undefined: single value) | resource-instance map
  type Res = { single?: Lwm2mValue; instances?: Map<number, Lwm2mValue> };
  const tree = new Map<number, Map<number, Map<number, Res>>>();
  let count = 0;
  for (const leaf of leaves) {
    if (!leaf.path.startsWith(path)) {
      throw new RangeError(`${leaf.path} is not under ${path}`);
    }
    if (leaf.value === undefined) continue;
    const [o, i, r, ri] = leaf.path.segments;
    if (o === undefined || i === undefined || r === undefined) {
      throw new RangeError(`${leaf.path} is not a resource path`);
    }
    const instances = tree.get(o) ?? new Map<number, Map<number, Res>>();
    tree.set(o, instances);
    const resources = instances.get(i) ?? new Map<number, Res>();
    instances.set(i, resources);
    const res = resources.get(r) ?? {};
    resources.set(r, res);
    if (ri === undefined) {
      if (res.single !== undefined || res.instances) throw new RangeError(`${leaf.path} twice`);
      res.single = leaf.value;
    } else {
      if (res.single !== undefined) throw new RangeError(`${leaf.path} under a single resource`);
      res.instances ??= new Map();
      if (res.instances.has(ri)) throw new RangeError(`${leaf.path} twice`);
      res.instances.set(ri, leaf.value);
    }
    count++;
  }
  const mkResource = (o: number, id: number, res: Res): Lwm2mResource => {
    const d = describe(o, id);
    if (res.single !== undefined) {
      if (d.multiple === true) throw new RangeError(`/${o}/x/${id} is a multiple resource`);
      return singleResource(id, res.single);
    }
    if (strict && d.multiple === false) {
      throw new RangeError(`/${o}/x/${id} is a single resource`);
    }
    const entries = [...(res.instances ?? new Map<number, Lwm2mValue>())];
    const type = d.type ?? entries[0]?.[1].type ?? 'opaque';
    return multipleResource(
      id,
      type,
      entries.map(([riId, v]) => resourceInstance(riId, v)),
    );
  };
  const mkInstance = (o: number, id: number, res: Map<number, Res>): Lwm2mObjectInstance =>
    objectInstance(
      id,
      [...res].map(([rid, r]) => mkResource(o, rid, r)),
    );
  const mkObject = (o: number, inst: Map<number, Map<number, Res>>): Lwm2mObject =>
    object(
      o,
      [...inst].map(([iid, r]) => mkInstance(o, iid, r)),
    );

  const [o, i, r, ri] = path.segments;
  if (o === undefined) throw new RangeError('cannot build the root node');
  const inst = tree.get(o);
  if (path.isObject()) return object(o, inst ? mkObject(o, inst).instances.values() : []);
  // A multiple resource with no instance is still a node (an empty one), when the shape says so.
  const emptyMultiple = (): Lwm2mNode | undefined => {
    if (!path.isResource() || describe(o, r!).multiple !== true) return undefined;
    return multipleResource(r!, describe(o, r!).type ?? 'opaque', []);
  };
  if (count === 0 || !inst) return emptyMultiple();
  const resources = inst.get(i!);
  if (!resources) return emptyMultiple();
  if (path.isObjectInstance()) return mkInstance(o, i!, resources);
  const res = resources.get(r!);
  if (!res) return emptyMultiple();
  const node = mkResource(o, r!, res);
  if (path.isResource()) return node;
  if (node.kind !== 'multiple-resource') return undefined;
  const leaf = node.instances.get(ri!);
  return leaf;
}

/** Groups leaves by the requested paths (Read-Composite response → one node per path). */
export function groupByPaths(
  paths: readonly Lwm2mPath[],
  leaves: readonly Lwm2mPathValue[],
  shape?: NodeShape,
): Map<string, Lwm2mNode | undefined> {
  const out = new Map<string, Lwm2mNode | undefined>();
  for (const p of paths) {
    out.set(
      p.toString(),
      buildNode(
        p,
        leaves.filter((l) => l.path.startsWith(p)),
        shape,
      ),
    );
  }
  return out;
}

/** RFC 8428 §4.5.3: times below 2^28 are relative to now; others are absolute. */
export const RELATIVE_TIME_LIMIT = 2 ** 28;

/** The absolute time (seconds) of an entry's `time`, resolving a relative one against `now`. */
export function resolveTime(time: number, nowSeconds: number): number {
  return time < RELATIVE_TIME_LIMIT ? nowSeconds + time : time;
}

/**
 * Groups entries by timestamp, oldest first, untimed entries under `undefined` (the shape of a
 * Send or a notification with historical data: one set of values per instant).
 */
export function groupByTime(
  entries: readonly Lwm2mPathValue[],
): Map<number | undefined, Lwm2mPathValue[]> {
  const out = new Map<number | undefined, Lwm2mPathValue[]>();
  const times = [...new Set(entries.map((e) => e.time))].sort((a, b) =>
    a === undefined ? -1 : b === undefined ? 1 : a - b,
  );
  for (const t of times) out.set(t, []);
  for (const e of entries) out.get(e.time)!.push(e);
  return out;
}
