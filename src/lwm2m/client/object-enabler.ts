/**
 * The object-enabler shape of the client (Leshan's `LwM2mObjectEnabler` / Wakaama's object
 * callbacks): an `ObjectEnabler` per object, holding `InstanceEnabler`s that read, write and
 * execute their resources. The client checks the model's operations (R, W, E) before it calls
 * an enabler, so that an enabler only implements behaviour. Object definitions come from the
 * shared registry: a client instance holds only its values.
 */
import { Code } from '../../coap/code.js';
import type { ObjectModel, ResourceModel } from '../model/object-model.js';
import { omaRegistry } from '../model/object-registry.js';
import {
  type Lwm2mResource,
  multipleResource,
  resourceInstance,
  singleResource,
} from '../node/lwm2m-node.js';
import type { Lwm2mValue } from '../node/lwm2m-value.js';

/** A resource's value: one value, or the instances of a multiple resource. */
export type ResourceValue = Lwm2mValue | ReadonlyMap<number, Lwm2mValue>;

/** Called when a resource changes, so that observations can notify. */
export type ChangeListener = (objectId: number, instanceId: number, resourceId?: number) => void;

/** Arguments of an Execute (LwM2M-TS-Core 1.1 §5.4.5): digit → value (or none). */
export type ExecuteArguments = ReadonlyMap<number, string | undefined>;

/** The model of `id` in the shared registry; throws when it is unknown (a bug of the caller). */
export function modelOf(id: number, version?: string): ObjectModel {
  const model = omaRegistry().get(id, version);
  if (!model)
    throw new RangeError(`object ${id}${version ? ` version ${version}` : ''} is unknown`);
  return model;
}

/** One object instance: a map of resource values, and behaviour in overridable methods. */
export class InstanceEnabler {
  readonly id: number;
  readonly model: ObjectModel;
  protected readonly values = new Map<number, ResourceValue>();
  #listener: ChangeListener | undefined;

  constructor(
    id: number,
    model: ObjectModel,
    values: Iterable<readonly [number, ResourceValue]> = [],
  ) {
    this.id = id;
    this.model = model;
    for (const [rid, v] of values) this.values.set(rid, v);
  }

  /** Set by the owning object when the instance is attached to a client. */
  setListener(listener: ChangeListener | undefined): void {
    this.#listener = listener;
  }

  /** IDs of the resources this instance has (readable or not), ascending. */
  resourceIds(): number[] {
    const ids = new Set(this.values.keys());
    // Executable resources carry no value but are present.
    for (const r of this.model.resources.values())
      if (r.operations === 'E' && this.supportsExecute(r.id)) ids.add(r.id);
    return [...ids].sort((a, b) => a - b);
  }

  /** True when the instance implements the executable resource `resourceId`. */
  protected supportsExecute(_resourceId: number): boolean {
    return false;
  }

  /** The resource as a node, or undefined when this instance does not have it. */
  read(resourceId: number): Lwm2mResource | undefined {
    const v = this.values.get(resourceId);
    if (v === undefined) return undefined;
    return toResource(resourceId, v, this.model.resources.get(resourceId));
  }

  /** The current value, for the device's own code. */
  get(resourceId: number): ResourceValue | undefined {
    return this.values.get(resourceId);
  }

  /**
   * A write from the server (or a Create). Returns the response code: 2.04 when done, 4.00
   * when the value is not acceptable. Override to react to writes.
   */
  write(resource: Lwm2mResource): number {
    this.values.set(resource.id, fromResource(resource));
    this.changed(resource.id);
    return Code.Changed;
  }

  /** Removes a resource (a Write replace of an instance drops the optional ones not sent). */
  remove(resourceId: number): void {
    if (this.values.delete(resourceId)) this.changed(resourceId);
  }

  /** Execute (LwM2M-TS-Core 1.1 §6.3.5); 4.04 unless overridden. */
  execute(_resourceId: number, _args: ExecuteArguments): number {
    return Code.NotFound;
  }

  /** Sets a value from the device's side (a new measurement) and tells the observers. */
  set(resourceId: number, value: ResourceValue): void {
    this.values.set(resourceId, value);
    this.changed(resourceId);
  }

  /** Tells the observers that `resourceId` changed. */
  protected changed(resourceId: number): void {
    this.#listener?.(this.model.id, this.id, resourceId);
  }
}

/** A resource node from a stored value. */
export function toResource(
  id: number,
  value: ResourceValue,
  model: ResourceModel | undefined,
): Lwm2mResource {
  if (value instanceof Map) {
    const entries = [...(value as ReadonlyMap<number, Lwm2mValue>)];
    const type = entries[0]?.[1].type ?? (model && model.type !== 'none' ? model.type : 'string');
    return multipleResource(
      id,
      type,
      entries.map(([i, v]) => resourceInstance(i, v)),
    );
  }
  return singleResource(id, value as Lwm2mValue);
}

/** A stored value from a resource node. */
export function fromResource(resource: Lwm2mResource): ResourceValue {
  if (resource.kind === 'single-resource') return resource.value;
  return new Map([...resource.instances].map(([i, ri]) => [i, ri.value]));
}

export type InstanceFactory = (id: number, model: ObjectModel) => InstanceEnabler;

/** One object: its instances, and how new ones are made (Create). */
export class ObjectEnabler {
  readonly model: ObjectModel;
  readonly instances = new Map<number, InstanceEnabler>();
  readonly #factory: InstanceFactory | undefined;
  #listener: ChangeListener | undefined;

  /**
   * `factory` makes the instances of a Create; without one the object refuses Create (4.05).
   */
  constructor(
    model: ObjectModel,
    instances: Iterable<InstanceEnabler> = [],
    factory?: InstanceFactory,
  ) {
    this.model = model;
    this.#factory = factory;
    for (const i of instances) this.instances.set(i.id, i);
  }

  get id(): number {
    return this.model.id;
  }

  /** Attaches the object to a client's change listener. */
  setListener(listener: ChangeListener | undefined): void {
    this.#listener = listener;
    for (const i of this.instances.values()) i.setListener(listener);
  }

  /** Instance IDs, ascending. */
  instanceIds(): number[] {
    return [...this.instances.keys()].sort((a, b) => a - b);
  }

  /** A free instance ID (the lowest unused), for a Create that names none. */
  freeInstanceId(): number {
    let id = 0;
    while (this.instances.has(id)) id++;
    return id;
  }

  get canCreate(): boolean {
    return this.#factory !== undefined;
  }

  /** Makes a new instance for Create (the client then writes the resources into it). */
  newInstance(id: number): InstanceEnabler | undefined {
    return this.#factory?.(id, this.model);
  }

  /** Adds an instance (Create, or the device's own code); tells observers of the object. */
  add(instance: InstanceEnabler): void {
    this.instances.set(instance.id, instance);
    instance.setListener(this.#listener);
    this.#listener?.(this.id, instance.id);
  }

  /**
   * Delete (LwM2M-TS-Core 1.1 §6.3.7): 2.02, or 4.05 for an instance that cannot go (the
   * single instance of a mandatory object such as Device).
   */
  delete(instanceId: number): number {
    if (!this.instances.has(instanceId)) return Code.NotFound;
    if (this.model.mandatory && !this.model.multiple) return Code.MethodNotAllowed;
    const instance = this.instances.get(instanceId)!;
    this.instances.delete(instanceId);
    instance.setListener(undefined);
    this.#listener?.(this.id, instanceId);
    return Code.Deleted;
  }
}
