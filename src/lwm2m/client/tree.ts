/**
 * Reading and writing the client's object tree by path, with the access rules of the object
 * model (LwM2M-TS-Core 1.1 §6.3: 4.04 for what does not exist, 4.05 for an operation that
 * the resource's `Operations` do not allow, 4.01 for the Security object).
 */
import { Code } from '../../coap/code.js';
import type { Lwm2mModel, ObjectModel, ResourceModel } from '../model/object-model.js';
import {
  type Lwm2mNode,
  type Lwm2mObjectInstance,
  type Lwm2mResource,
  object,
  objectInstance,
} from '../node/lwm2m-node.js';
import type { Lwm2mPath } from '../node/lwm2m-path.js';
import type { Lwm2mValue } from '../node/lwm2m-value.js';
import type { InstanceEnabler, ObjectEnabler } from './object-enabler.js';

export type Outcome<T> = { readonly code: number; readonly value?: T; readonly reason?: string };

const fail = <T>(code: number, reason: string): Outcome<T> => ({ code, reason });

export const readable = (r: ResourceModel | undefined): boolean =>
  r !== undefined && (r.operations === 'R' || r.operations === 'RW');
export const writable = (r: ResourceModel | undefined): boolean =>
  r !== undefined && (r.operations === 'W' || r.operations === 'RW');

/** The client's objects as a tree, by path. */
export class ObjectTree {
  readonly objects: ReadonlyMap<number, ObjectEnabler>;
  /** The model of this client's objects, for the codecs. */
  readonly model: Lwm2mModel;

  constructor(objects: ReadonlyMap<number, ObjectEnabler>) {
    this.objects = objects;
    this.model = {
      getObject: (id) => objects.get(id)?.model,
      getResource: (o, r) => objects.get(o)?.model.resources.get(r),
    };
  }

  /**
   * The object (or 4.04). LwM2M-TS-Core 1.1 Appendix E.1: the Security object belongs to the
   * Bootstrap-Server; a (Device Management) server gets 4.01.
   */
  object(objectId: number): Outcome<ObjectEnabler> {
    if (objectId === 0 && this.objects.has(0)) return fail(Code.Unauthorized, 'Security object');
    const o = this.objects.get(objectId);
    return o ? { code: Code.Content, value: o } : fail(Code.NotFound, `no object ${objectId}`);
  }

  instance(path: Lwm2mPath): Outcome<InstanceEnabler> {
    const o = this.object(path.objectId!);
    if (!o.value) return fail(o.code, o.reason ?? '');
    const i = o.value.instances.get(path.instanceId!);
    return i ? { code: Code.Content, value: i } : fail(Code.NotFound, `no instance ${path}`);
  }

  /** Readable resources of an instance as a node. */
  #readInstance(instance: InstanceEnabler, model: ObjectModel): Lwm2mObjectInstance {
    const resources: Lwm2mResource[] = [];
    for (const rid of instance.resourceIds()) {
      if (!readable(model.resources.get(rid))) continue;
      const r = instance.read(rid);
      if (r) resources.push(r);
    }
    return objectInstance(instance.id, resources);
  }

  /** Read (LwM2M-TS-Core 1.1 §6.3.1) of any path below the root. */
  read(path: Lwm2mPath): Outcome<Lwm2mNode> {
    const o = this.object(path.objectId!);
    if (!o.value) return fail(o.code, o.reason ?? '');
    const obj = o.value;
    if (path.isObject()) {
      return {
        code: Code.Content,
        value: object(
          obj.id,
          obj.instanceIds().map((id) => this.#readInstance(obj.instances.get(id)!, obj.model)),
        ),
      };
    }
    const i = this.instance(path);
    if (!i.value) return fail(i.code, i.reason ?? '');
    if (path.isObjectInstance()) {
      return { code: Code.Content, value: this.#readInstance(i.value, obj.model) };
    }
    const rm = obj.model.resources.get(path.resourceId!);
    if (!rm) return fail(Code.NotFound, `no resource ${path}`);
    // LwM2M-TS-Core 1.1 §6.3.1: a resource that is not readable (W or E) answers 4.05.
    if (!readable(rm)) return fail(Code.MethodNotAllowed, `${path} is not readable`);
    if (!i.value.resourceIds().includes(path.resourceId!)) return fail(Code.NotFound, `no ${path}`);
    const r = i.value.read(path.resourceId!);
    if (!r) return fail(Code.NotFound, `no value at ${path}`);
    if (path.isResource()) return { code: Code.Content, value: r };
    if (r.kind !== 'multiple-resource') return fail(Code.NotFound, `${path}: single resource`);
    const ri = r.instances.get(path.resourceInstanceId!);
    return ri ? { code: Code.Content, value: ri } : fail(Code.NotFound, `no ${path}`);
  }

  /** The value at a resource (or resource instance) path, when it holds one value. */
  #leafValue(path: Lwm2mPath): Lwm2mValue | undefined {
    if (!path.isResource() && !path.isResourceInstance()) return undefined;
    const node = this.read(path).value;
    if (!node || (node.kind !== 'single-resource' && node.kind !== 'resource-instance')) {
      return undefined;
    }
    return node.value;
  }

  /** The numeric value at a resource (or resource instance) path, for gt/lt/st. */
  numericValue(path: Lwm2mPath): number | undefined {
    const v = this.#leafValue(path);
    if (v?.type === 'integer' || v?.type === 'unsigned' || v?.type === 'float')
      return Number(v.value);
    return undefined;
  }

  /** The boolean value at a resource (or resource instance) path, for edge. */
  booleanValue(path: Lwm2mPath): boolean | undefined {
    const v = this.#leafValue(path);
    return v?.type === 'boolean' ? v.value : undefined;
  }
}
