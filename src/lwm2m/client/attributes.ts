/**
 * Notification attributes on the client (LwM2M-TS-Core 1.1 §5.1.1, §5.1.2; 1.2 §5.1.2): what a
 * Write-Attributes query sets, where it attaches (object, instance, resource, resource
 * instance), and the effective attributes of a path, the nearest level winning.
 */
import type { Lwm2mPath } from '../node/lwm2m-path.js';

export interface Attributes {
  pmin?: number;
  pmax?: number;
  gt?: number;
  lt?: number;
  st?: number;
  epmin?: number;
  epmax?: number;
  edge?: number;
  con?: number;
  hqmax?: number;
}

type Name = keyof Attributes;

const INTEGER: ReadonlySet<string> = new Set([
  'pmin',
  'pmax',
  'epmin',
  'epmax',
  'edge',
  'con',
  'hqmax',
]);
const NUMERIC: ReadonlySet<string> = new Set(['gt', 'lt', 'st']);
const SINCE: Readonly<Record<string, string>> = {
  pmin: '1.0',
  pmax: '1.0',
  gt: '1.0',
  lt: '1.0',
  st: '1.0',
  epmin: '1.1',
  epmax: '1.1',
  edge: '1.2',
  con: '1.2',
  hqmax: '1.2',
};

/** One parsed Write-Attributes query: value to set, or `null` to remove. */
export type AttributeChanges = Partial<Record<Name, number | null>>;

/**
 * Parses the Uri-Query of a Write-Attributes request. Returns a reason text on an unknown
 * attribute, a malformed value, or an attribute newer than the client's version (4.00,
 * LwM2M-TS-Core 1.1 §6.3.4).
 */
export function parseAttributeQuery(
  query: readonly string[],
  version: string,
): AttributeChanges | string {
  const out: AttributeChanges = {};
  for (const item of query) {
    const eq = item.indexOf('=');
    const name = eq < 0 ? item : item.slice(0, eq);
    const text = eq < 0 ? undefined : item.slice(eq + 1);
    if (!(name in SINCE)) return `unknown attribute '${name}'`;
    if (Number(SINCE[name]) > Number(version))
      return `'${name}' is not an LwM2M ${version} attribute`;
    if (name in out) return `'${name}' twice`;
    if (text === undefined) {
      // LwM2M-TS-Core 1.1 §5.1.1: an attribute without a value is removed.
      out[name as Name] = null;
      continue;
    }
    if (INTEGER.has(name)) {
      if (!/^\d{1,10}$/.test(text)) return `'${name}' must be a non-negative integer`;
    } else if (NUMERIC.has(name)) {
      if (!/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(text)) return `'${name}' must be a number`;
    }
    const value = Number(text);
    if ((name === 'edge' || name === 'con') && value !== 0 && value !== 1) {
      return `'${name}' must be 0 or 1`;
    }
    // LwM2M-TS-Core 1.1 §5.1.2: the step is not negative.
    if (name === 'st' && value < 0) return "'st' must not be negative";
    out[name as Name] = value;
  }
  return out;
}

/** Attributes attached to paths, and the effective attributes of a path. */
export class AttributeStore {
  readonly #byPath = new Map<string, Attributes>();

  get(path: Lwm2mPath): Attributes {
    return this.#byPath.get(path.toString()) ?? {};
  }

  /**
   * Applies changes at `path`; returns a reason when the result breaks a rule of
   * LwM2M-TS-Core 1.1 §5.1.2 (nothing is changed then).
   */
  apply(path: Lwm2mPath, changes: AttributeChanges): string | undefined {
    const next: Attributes = { ...this.get(path) };
    for (const [k, v] of Object.entries(changes) as [Name, number | null][]) {
      if (v === null) delete next[k];
      else next[k] = v;
    }
    const { gt, lt, st } = next;
    // LwM2M-TS-Core 1.1 §5.1.2: gt, lt and st attach to resources only.
    if ((gt !== undefined || lt !== undefined || st !== undefined) && path.segments.length < 3) {
      return 'gt, lt and st attach to resources only';
    }
    // LwM2M-TS-Core 1.1 §5.1.2: lt < gt, and lt + 2*st < gt when all three are set.
    if (gt !== undefined && lt !== undefined) {
      if (!(lt < gt)) return 'lt must be less than gt';
      if (st !== undefined && !(lt + 2 * st < gt)) return 'lt + 2*st must be less than gt';
    }
    if (Object.keys(next).length === 0) this.#byPath.delete(path.toString());
    else this.#byPath.set(path.toString(), next);
    return undefined;
  }

  /**
   * The attributes in force for an observation of `path`: resource-instance over resource over
   * instance over object (LwM2M-TS-Core 1.1 §5.1.1: the attribute of the lowest level wins),
   * with pmin/pmax falling back to the Server object's defaults.
   */
  effective(path: Lwm2mPath, defaults: { pmin?: number; pmax?: number }): Attributes {
    const out: Attributes = {};
    if (defaults.pmin !== undefined) out.pmin = defaults.pmin;
    if (defaults.pmax !== undefined) out.pmax = defaults.pmax;
    const segs = path.segments;
    for (let n = 1; n <= segs.length; n++) {
      const a = this.#byPath.get(`/${segs.slice(0, n).join('/')}`);
      if (!a) continue;
      // Value conditions belong to the observed resource itself.
      for (const [k, v] of Object.entries(a) as [Name, number][]) {
        if (NUMERIC.has(k) && n !== segs.length) continue;
        out[k] = v;
      }
    }
    return out;
  }

  /** Attributes at `path` as link-format parameters (for Discover, LwM2M-TS-Core 1.1 §6.3.2). */
  linkParams(path: Lwm2mPath): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.get(path))) out[k] = String(v);
    return out;
  }

  /** Forgets the attributes at and under `path` (its instance was deleted). */
  forget(path: Lwm2mPath): void {
    const prefix = path.toString();
    for (const key of [...this.#byPath.keys()]) {
      if (key === prefix || key.startsWith(`${prefix}/`)) this.#byPath.delete(key);
    }
  }
}
