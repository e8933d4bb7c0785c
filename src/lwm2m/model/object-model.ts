/**
 * Typed object definitions, as described by an LwM2M DDF (Device Description File).
 * LwM2M-TS-Core 1.1 §7.2 and Appendix D (object template); schema `registry/lwm2m/LWM2M-v1_1.xsd`.
 */

/** The data types of LwM2M-TS-Core 1.1 Appendix C; `none` is a resource without a value (Execute). */
export type ResourceType =
  | 'string'
  | 'integer'
  | 'unsigned'
  | 'float'
  | 'boolean'
  | 'opaque'
  | 'time'
  | 'objlnk'
  | 'corelnk'
  | 'none';

/** The DDF `<Operations>` element: R, W, RW, E, or empty (no operation). */
export type Operations = 'R' | 'W' | 'RW' | 'E' | 'NONE';

/** A parsed `<RangeEnumeration>`: the raw text, plus the bounds when it reads as `min..max`. */
export interface RangeEnumeration {
  readonly raw: string;
  readonly min?: number;
  readonly max?: number;
  /** `bytes` when the range constrains a length (`0..255 bytes`), otherwise `value`. */
  readonly unit?: 'value' | 'bytes';
  /** A list of allowed values when the text reads as one (`0,1,2` or `1;2;3`). */
  readonly enumeration?: readonly string[];
}

export interface ResourceModel {
  readonly id: number;
  readonly name: string;
  readonly operations: Operations;
  readonly multiple: boolean;
  readonly mandatory: boolean;
  readonly type: ResourceType;
  readonly range?: RangeEnumeration;
  readonly units?: string;
  readonly description: string;
}

export interface ObjectModel {
  readonly id: number;
  readonly name: string;
  readonly description: string;
  readonly urn: string;
  /** The object's version, `1.0` when the DDF leaves it out (LwM2M-TS-Core 1.1 §7.2.2). */
  readonly version: string;
  /** The LwM2M enabler version the object was written for, `1.0` when left out. */
  readonly lwm2mVersion: string;
  readonly multiple: boolean;
  readonly mandatory: boolean;
  /** Resources by id, in ascending id order. */
  readonly resources: ReadonlyMap<number, ResourceModel>;
  /** The file the definition came from, for error messages. */
  readonly source?: string;
}

/**
 * What the codecs need to know of a device's objects: the definitions of the versions that
 * device announced. An `ObjectRegistry` gives one through `modelFor(...)`.
 */
export interface Lwm2mModel {
  getObject(objectId: number): ObjectModel | undefined;
  getResource(objectId: number, resourceId: number): ResourceModel | undefined;
}

/** A model over a fixed list of definitions (tests, devices with custom objects). */
export class StaticModel implements Lwm2mModel {
  readonly #objects = new Map<number, ObjectModel>();

  constructor(objects: Iterable<ObjectModel>) {
    for (const o of objects) this.#objects.set(o.id, o);
  }

  getObject(objectId: number): ObjectModel | undefined {
    return this.#objects.get(objectId);
  }

  getResource(objectId: number, resourceId: number): ResourceModel | undefined {
    return this.#objects.get(objectId)?.resources.get(resourceId);
  }
}

/** An empty model: codecs fall back to what the content format itself says. */
export const EMPTY_MODEL: Lwm2mModel = new StaticModel([]);

/** Compares two dotted versions numerically (`1.10` > `1.2`). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split('.').map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
