/**
 * application/vnd.oma.lwm2m+cbor (11544). LwM2M-TS-Core 1.2 §7.4.6: one CBOR map whose keys
 * are path segments (an unsigned integer) or path fragments (an array of them), nested until a
 * key completes a resource or resource-instance path, whose value is the resource value; paths
 * always start at the root. Values: text (String, Corelnk, Objlnk "oid:iid"), integers, floats,
 * booleans, byte strings (Opaque), tag 1 + integer (Time); null is a path without value.
 */
import type { Lwm2mModel } from '../model/object-model.js';
import type { Lwm2mNode } from '../node/lwm2m-node.js';
import { Lwm2mPath } from '../node/lwm2m-path.js';
import {
  INT64_MAX,
  INT64_MIN,
  type Lwm2mValue,
  narrowInteger,
  timeToSeconds,
  UINT64_MAX,
  type ValueType,
} from '../node/lwm2m-value.js';
import { flattenNode, type Lwm2mPathValue } from '../node/path-value.js';
import { CborFloat, CborTag, type CborValue, readCbor, writeCbor } from './cbor.js';
import { CodecError, guard } from './codec-error.js';
import { convertValue, modelType, nodeFromLeaves } from './value-converter.js';

// Four nested path maps, a path-fragment array key, and a tagged value (tag 4 holds an array).
const MAX_DEPTH = 8;
// The most leaves one payload may hold (a bad packet costs its sender).
const MAX_ENTRIES = 65536;

function keySegments(key: CborValue, at: readonly number[]): number[] {
  const one = (k: CborValue): number => {
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 0 || k > 65535) {
      throw new CodecError('INVALID_PATH', `LwM2M CBOR key ${String(k)} under /${at.join('/')}`);
    }
    return k;
  };
  // LwM2M-TS-Core 1.2 §7.4.6: a key is one path segment or an array of consecutive segments.
  if (Array.isArray(key)) {
    if (key.length === 0) throw new CodecError('INVALID_PATH', 'LwM2M CBOR empty path key');
    return key.map(one);
  }
  return [one(key)];
}

function rawValue(v: CborValue, path: Lwm2mPath): Lwm2mValue {
  if (typeof v === 'string') return { type: 'string', value: v };
  if (typeof v === 'boolean') return { type: 'boolean', value: v };
  if (v instanceof Uint8Array) return { type: 'opaque', value: Buffer.from(v) };
  if (typeof v === 'bigint') {
    if (v < INT64_MIN || v > UINT64_MAX) {
      throw new CodecError('VALUE_OUT_OF_RANGE', `${path}: ${v} is outside 64 bits`);
    }
    return v > INT64_MAX
      ? { type: 'unsigned', value: narrowInteger(v) }
      : { type: 'integer', value: narrowInteger(v) };
  }
  if (v instanceof CborFloat) return { type: 'float', value: v.value };
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return { type: 'float', value: v };
    return Number.isSafeInteger(v) ? { type: 'integer', value: v } : { type: 'float', value: v };
  }
  if (v instanceof CborTag) {
    // RFC 8949 §3.4.2: tag 1 is epoch-based time; LwM2M-TS-Core 1.2 §7.4.6 uses it for Time.
    const epoch = v.value instanceof CborFloat ? v.value.value : v.value;
    if (Number(v.tag) === 1 && (typeof epoch === 'number' || typeof epoch === 'bigint')) {
      const s = Math.floor(Number(epoch));
      const d = new Date(s * 1000);
      if (Number.isNaN(d.getTime())) throw new CodecError('VALUE_OUT_OF_RANGE', `${path}: time`);
      return { type: 'time', value: d };
    }
    // RFC 8949 §3.4.4: tag 4 is a decimal fraction [exponent, mantissa].
    if (Number(v.tag) === 4 && Array.isArray(v.value) && v.value.length === 2) {
      const [e, m] = v.value;
      if (typeof e === 'number' && typeof m === 'number' && Number.isInteger(e)) {
        return { type: 'float', value: Number(`${m}e${e}`) };
      }
    }
    throw new CodecError('TYPE_MISMATCH', `${path}: CBOR tag ${v.tag} is not an LwM2M value`);
  }
  throw new CodecError('TYPE_MISMATCH', `${path}: a CBOR ${describe(v)} is not an LwM2M value`);
}

function describe(v: CborValue): string {
  if (Array.isArray(v)) return 'array';
  if (v instanceof Map) return 'map';
  return v === undefined ? 'undefined' : typeof v;
}

/** A CBOR value typed by the model's type at `path` (or by its CBOR type without one). */
export function cborToValue(v: CborValue, path: Lwm2mPath, model: Lwm2mModel): Lwm2mValue {
  const raw = rawValue(v, path);
  const type = modelType(model, path);
  if (type === undefined) return raw;
  if (raw.type === 'string' && type === 'objlnk') {
    const m = /^(\d{1,5}):(\d{1,5})$/.exec(raw.value);
    const objectId = Number(m?.[1]);
    const instanceId = Number(m?.[2]);
    if (!m || objectId > 65535 || instanceId > 65535) {
      throw new CodecError('TYPE_MISMATCH', `${path}: "${raw.value}" is not an object link`);
    }
    return { type: 'objlnk', value: { objectId, instanceId } };
  }
  if (raw.type === 'float' && !Number.isFinite(raw.value)) {
    throw new CodecError('VALUE_OUT_OF_RANGE', `${path}: ${raw.value}`);
  }
  if (raw.type === 'float' && type === 'time') {
    return convertValue({ type: 'integer', value: Math.floor(raw.value) }, 'time', path);
  }
  return convertValue(raw, type, path);
}

/** The leaves of an LwM2M CBOR payload, depth-first in payload order. */
export function parseLwm2mCbor(bytes: Uint8Array, model: Lwm2mModel): Lwm2mPathValue[] {
  const root = readCbor(bytes, { maxDepth: MAX_DEPTH, wrapFloats: true });
  if (!(root instanceof Map)) throw new CodecError('MALFORMED', 'LwM2M CBOR is not a map');
  const out: Lwm2mPathValue[] = [];
  const seen = new Set<string>();
  const walk = (map: Map<CborValue, CborValue>, at: readonly number[]): void => {
    for (const [key, value] of map) {
      const segs = [...at, ...keySegments(key, at)];
      if (segs.length > 4) {
        throw new CodecError('INVALID_PATH', `LwM2M CBOR path /${segs.join('/')} is too deep`);
      }
      if (value instanceof Map) {
        if (segs.length === 4) {
          throw new CodecError('INVALID_PATH', `LwM2M CBOR map under /${segs.join('/')}`);
        }
        walk(value, segs);
        continue;
      }
      const path = new Lwm2mPath(...segs);
      const key2 = path.toString();
      if (seen.has(key2)) throw new CodecError('DUPLICATE_PATH', `${key2} appears twice`);
      seen.add(key2);
      if (out.length >= MAX_ENTRIES)
        throw new CodecError('TOO_LARGE', 'too many LwM2M CBOR values');
      if (value === null) {
        out.push({ path });
        continue;
      }
      if (segs.length < 3) {
        throw new CodecError('INVALID_PATH', `${key2}: a value needs a resource path`);
      }
      out.push({ path, value: cborToValue(value, path, model) });
    }
  };
  walk(root, []);
  // A path may not be both a leaf and the parent of another leaf (/3/0/6 and /3/0/6/1).
  const parents = new Set<string>();
  for (const l of out) {
    for (let p = l.path.parent(); !p.isRoot(); p = p.parent()) parents.add(p.toString());
  }
  for (const k of seen) {
    if (parents.has(k)) throw new CodecError('DUPLICATE_PATH', `${k} has a value and children`);
  }
  return out;
}

/** The CBOR item of a value (LwM2M-TS-Core 1.2 §7.4.6, and 1.1 §7.4.6 for application/cbor). */
export function valueToCbor(value: Lwm2mValue): CborValue {
  switch (value.type) {
    case 'string':
    case 'corelnk':
      return value.value;
    case 'integer':
    case 'unsigned':
      return value.value;
    case 'float':
      return new CborFloat(value.value);
    case 'boolean':
      return value.value;
    case 'opaque':
      return value.value;
    case 'time':
      return new CborTag(1, timeToSeconds(value.value));
    case 'objlnk':
      return `${value.value.objectId}:${value.value.instanceId}`;
  }
}

function toType(e: Lwm2mPathValue, model: Lwm2mModel): Lwm2mValue {
  const t: ValueType | undefined = modelType(model, e.path);
  return t === undefined ? e.value! : convertValue(e.value!, t, e.path);
}

/** Nested maps from the root for the leaves, in their order; null for a path without value. */
export function formatLwm2mCbor(entries: readonly Lwm2mPathValue[], model: Lwm2mModel): Buffer {
  const root = new Map<CborValue, CborValue>();
  for (const e of entries) {
    if (e.time !== undefined) {
      // LwM2M-TS-Core 1.2 §7.4.6 has no timestamps: timestamped data needs SenML.
      throw new CodecError('NOT_ACCEPTABLE', 'LwM2M CBOR cannot carry timestamps');
    }
    const segs = e.path.segments;
    if (segs.length === 0) throw new CodecError('INVALID_PATH', 'LwM2M CBOR cannot name the root');
    let map = root;
    for (const s of segs.slice(0, -1)) {
      let next = map.get(s);
      if (next === undefined) {
        next = new Map<CborValue, CborValue>();
        map.set(s, next);
      }
      if (!(next instanceof Map)) throw new CodecError('DUPLICATE_PATH', `${e.path} under a value`);
      map = next;
    }
    const last = segs[segs.length - 1]!;
    if (map.has(last)) throw new CodecError('DUPLICATE_PATH', `${e.path} appears twice`);
    map.set(last, e.value === undefined ? null : valueToCbor(toType(e, model)));
  }
  return writeCbor(root);
}

export function decodeLwm2mCbor(bytes: Uint8Array, path: Lwm2mPath, model: Lwm2mModel): Lwm2mNode {
  return guard(
    'MALFORMED',
    () => `LwM2M CBOR ${path}`,
    () => nodeFromLeaves(path, model, 'LwM2M CBOR', () => parseLwm2mCbor(bytes, model)),
  );
}

export function encodeLwm2mCbor(node: Lwm2mNode, path: Lwm2mPath, model: Lwm2mModel): Buffer {
  return guard(
    'TYPE_MISMATCH',
    () => `LwM2M CBOR ${path}`,
    () => formatLwm2mCbor(flattenNode(node, path), model),
  );
}

export function decodeLwm2mCborComposite(bytes: Uint8Array, model: Lwm2mModel): Lwm2mPathValue[] {
  return guard('MALFORMED', 'LwM2M CBOR', () => parseLwm2mCbor(bytes, model));
}

export function encodeLwm2mCborComposite(
  entries: readonly Lwm2mPathValue[],
  model: Lwm2mModel,
): Buffer {
  return guard('TYPE_MISMATCH', 'LwM2M CBOR', () => formatLwm2mCbor(entries, model));
}
