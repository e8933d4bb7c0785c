/**
 * The SenML data model shared by SenML JSON (110) and SenML CBOR (112): records, their
 * resolution (RFC 8428 §4.6) and their mapping to LwM2M paths and values
 * (LwM2M-TS-Core 1.1 §7.4.4 and §7.4.5, Table 7.4.4-1).
 */
import type { Lwm2mModel } from '../model/object-model.js';
import type { Lwm2mNode } from '../node/lwm2m-node.js';
import { InvalidPathError, Lwm2mPath } from '../node/lwm2m-path.js';
import {
  INT64_MAX,
  INT64_MIN,
  type Lwm2mValue,
  narrowInteger,
  timeToSeconds,
  UINT64_MAX,
} from '../node/lwm2m-value.js';
import { flattenNode, type Lwm2mPathValue } from '../node/path-value.js';
import { CodecError, guard } from './codec-error.js';
import { convertValue, modelType, nodeFromLeaves } from './value-converter.js';

/** One SenML record, with the fields LwM2M uses. Numbers may be bigint past 2^53. */
export interface SenmlRecord {
  bn?: string;
  bt?: number;
  /** RFC 8428 §4.1 base unit and version: kept for SenML round trips, unused by LwM2M. */
  bu?: string;
  bver?: number;
  /** RFC 8428 §4.5.4 base value: added to the `v` of this and later records (§4.6). */
  bv?: number;
  n?: string;
  u?: string;
  t?: number;
  v?: number | bigint;
  /** Write `v` as a float in CBOR even when it has no fraction (a Float resource). */
  vFloat?: boolean;
  /** `v` came as a CBOR epoch time (tag 1): without a model it is a Time. */
  vTime?: boolean;
  vs?: string;
  vb?: boolean;
  vd?: Buffer;
  /** LwM2M-TS-Core 1.1 §7.4.4: an Objlnk value as "ObjectID:InstanceID". */
  vlo?: string;
}

/** The most records one payload may hold; more is TOO_LARGE (a bad packet costs its sender). */
export const MAX_RECORDS = 65536;

/** RFC 8428 §4.1: the SenML version this codec reads, and the default of a pack naming none. */
export const SENML_VERSION = 10;

/**
 * RFC 8428 §4.4: a reader MUST NOT use a pack whose version is above the one it understands,
 * and all records of a pack have the same version. A version is a positive integer (§4.1).
 */
export function checkSenmlVersion(records: readonly SenmlRecord[]): void {
  let version: number | undefined;
  records.forEach((r, i) => {
    if (r.bver === undefined) return;
    if (!Number.isInteger(r.bver) || r.bver < 1) {
      throw new CodecError('TYPE_MISMATCH', `SenML record ${i}: "bver" is not a positive integer`);
    }
    if (r.bver > SENML_VERSION) {
      throw new CodecError(
        'MALFORMED',
        `SenML record ${i}: version ${r.bver} is above ${SENML_VERSION}`,
      );
    }
    if (version !== undefined && r.bver !== version) {
      throw new CodecError('MALFORMED', `SenML record ${i}: version ${r.bver} after ${version}`);
    }
    version = r.bver;
  });
}

const OBJLNK = /^(\d{1,5}):(\d{1,5})$/;

function parseObjlnk(s: string, path: Lwm2mPath): Lwm2mValue {
  const m = OBJLNK.exec(s);
  const objectId = Number(m?.[1]);
  const instanceId = Number(m?.[2]);
  if (!m || objectId > 65535 || instanceId > 65535) {
    throw new CodecError('TYPE_MISMATCH', `${path}: vlo "${s}" is not ObjectID:InstanceID`);
  }
  return { type: 'objlnk', value: { objectId, instanceId } };
}

function numberValue(v: number | bigint, path: Lwm2mPath): Lwm2mValue {
  if (typeof v === 'bigint') {
    if (v < INT64_MIN || v > UINT64_MAX) {
      throw new CodecError('VALUE_OUT_OF_RANGE', `${path}: ${v} is outside 64 bits`);
    }
    return v > INT64_MAX
      ? { type: 'unsigned', value: narrowInteger(v) }
      : { type: 'integer', value: narrowInteger(v) };
  }
  if (Number.isSafeInteger(v)) return { type: 'integer', value: v };
  return { type: 'float', value: v };
}

/** The typed value of one record, by the model's type when it knows the resource. */
export function recordValue(
  r: SenmlRecord,
  path: Lwm2mPath,
  model: Lwm2mModel,
): Lwm2mValue | undefined {
  const fields = [r.v, r.vs, r.vb, r.vd, r.vlo].filter((x) => x !== undefined).length;
  if (fields === 0) return undefined;
  // RFC 8428 §4.2: a record has at most one value field.
  if (fields > 1) throw new CodecError('MALFORMED', `${path}: a record with ${fields} values`);
  let raw: Lwm2mValue;
  if (r.v !== undefined && r.vTime) {
    const d = new Date(Math.floor(Number(r.v)) * 1000);
    if (Number.isNaN(d.getTime())) throw new CodecError('VALUE_OUT_OF_RANGE', `${path}: time`);
    raw = { type: 'time', value: d };
  } else if (r.v !== undefined && r.vFloat && typeof r.v === 'number') {
    raw = { type: 'float', value: r.v };
  } else if (r.v !== undefined) raw = numberValue(r.v, path);
  else if (r.vs !== undefined) raw = { type: 'string', value: r.vs };
  else if (r.vb !== undefined) raw = { type: 'boolean', value: r.vb };
  else if (r.vd !== undefined) raw = { type: 'opaque', value: r.vd };
  else raw = parseObjlnk(r.vlo!, path);
  const type = modelType(model, path);
  if (type === undefined) return raw;
  // LwM2M-TS-Core 1.1 Table 7.4.4-1: Integer, Unsigned Integer, Float and Time use "v";
  // String and Corelnk "vs"; Boolean "vb"; Opaque "vd"; Objlnk "vlo".
  const field = r.v !== undefined ? 'v' : r.vs !== undefined ? 'vs' : 'other';
  if (['integer', 'unsigned', 'float', 'time'].includes(type) && field !== 'v') {
    throw new CodecError('TYPE_MISMATCH', `${path}: a ${type} resource takes "v"`);
  }
  if ((type === 'string' || type === 'corelnk') && field !== 'vs') {
    throw new CodecError('TYPE_MISMATCH', `${path}: a ${type} resource takes "vs"`);
  }
  if (type === 'time' && raw.type === 'float') {
    // Time is whole seconds; a fraction is dropped rather than refused.
    return convertValue({ type: 'integer', value: Math.floor(raw.value) }, 'time', path);
  }
  return convertValue(raw, type, path);
}

/** Sets the value field of a record (Table 7.4.4-1). */
export function setRecordValue(r: SenmlRecord, value: Lwm2mValue): void {
  switch (value.type) {
    case 'string':
    case 'corelnk':
      r.vs = value.value;
      return;
    case 'integer':
    case 'unsigned':
      r.v = value.value;
      return;
    case 'float':
      r.v = value.value;
      r.vFloat = true;
      return;
    case 'time':
      r.v = timeToSeconds(value.value);
      return;
    case 'boolean':
      r.vb = value.value;
      return;
    case 'opaque':
      r.vd = value.value;
      return;
    case 'objlnk':
      r.vlo = `${value.value.objectId}:${value.value.instanceId}`;
      return;
  }
}

function parsePath(name: string): Lwm2mPath {
  try {
    return Lwm2mPath.parse(name);
  } catch (e) {
    if (e instanceof InvalidPathError) {
      throw new CodecError('INVALID_PATH', `SenML name "${name}": ${e.message}`);
    }
    throw e;
  }
}

/**
 * Resolves records (RFC 8428 §4.6: base name and base time carry over to later records) into
 * path-values. Paths may be of any level when a record has no value (Read-Composite request).
 */
export function recordsToPathValues(
  records: readonly SenmlRecord[],
  model: Lwm2mModel,
): Lwm2mPathValue[] {
  if (records.length > MAX_RECORDS) {
    throw new CodecError('TOO_LARGE', `${records.length} SenML records exceed ${MAX_RECORDS}`);
  }
  let bn = '';
  let bt: number | undefined;
  let bv: number | undefined;
  const out: Lwm2mPathValue[] = [];
  const seen = new Set<string>();
  for (const r of records) {
    if (r.bn !== undefined) bn = r.bn;
    if (r.bt !== undefined) bt = r.bt;
    if (r.bv !== undefined) bv = r.bv;
    // LwM2M-TS-Core 1.1 §7.4.4: the resource path is the base name followed by the name.
    const path = parsePath(bn + (r.n ?? ''));
    const key = path.toString();
    // RFC 8428 §4.6: records with the same name and time are the same measurement; LwM2M
    // allows a path twice only with different times (Send, §7.4.4).
    const time = bt !== undefined || r.t !== undefined ? (bt ?? 0) + (r.t ?? 0) : undefined;
    const dedup = `${key}@${time ?? ''}`;
    if (seen.has(dedup)) throw new CodecError('DUPLICATE_PATH', `${key} appears twice`);
    seen.add(dedup);
    const value = recordValue(withBaseValue(r, bv), path, model);
    if (value !== undefined && !path.isResource() && !path.isResourceInstance()) {
      throw new CodecError('INVALID_PATH', `${key}: a value needs a resource path`);
    }
    out.push({
      path,
      ...(value !== undefined ? { value } : {}),
      ...(time !== undefined ? { time } : {}),
    });
  }
  return out;
}

/**
 * RFC 8428 §4.6: a resolved record's value is the base value plus its own `v`. A record without
 * `v` gets none (in LwM2M it names a path without a value, or holds a value of another type).
 */
function withBaseValue(r: SenmlRecord, bv: number | undefined): SenmlRecord {
  if (bv === undefined || bv === 0 || r.v === undefined) return r;
  if (typeof r.v === 'bigint') {
    if (!Number.isInteger(bv)) return { ...r, v: Number(r.v) + bv, vFloat: true };
    return { ...r, v: r.v + BigInt(bv) };
  }
  const v = r.v + bv;
  return Number.isInteger(bv) ? { ...r, v } : { ...r, v, vFloat: true };
}

/**
 * Records for path-values: a base name per object instance, names relative to it, a base time
 * whenever the time changes. Entries without a time come first: once a base time is set it
 * applies to every later record (RFC 8428 §4.5.1), so an untimed entry cannot follow a timed one.
 */
export function pathValuesToRecords(
  entries: readonly Lwm2mPathValue[],
  model: Lwm2mModel,
): SenmlRecord[] {
  const records: SenmlRecord[] = [];
  let bn: string | undefined;
  let bt: number | undefined;
  const ordered = [
    ...entries.filter((e) => e.time === undefined),
    ...entries.filter((e) => e.time !== undefined),
  ];
  for (const e of ordered) {
    const r: SenmlRecord = {};
    const segs = e.path.segments;
    if (e.value === undefined) {
      // A path without value (a Read-Composite or Observe-Composite request, a deletion in a
      // Write-Composite) is written whole in "n", the way clients expect a path list; a base
      // name in force is reset first (RFC 8428 §4.5.1: it applies to every later record).
      if (bn) r.bn = '';
      bn = '';
      r.n = e.path.toString();
    } else {
      // Values share "/o/i/" as base name and name the rest of their path.
      const base = `/${segs[0]}/${segs[1]}/`;
      if (base !== bn) {
        r.bn = base;
        bn = base;
      }
      r.n = segs.slice(2).join('/');
    }
    if (e.time !== undefined && e.time !== bt) {
      r.bt = e.time;
      bt = e.time;
    }
    if (e.value !== undefined) setRecordValue(r, toType(e, model));
    records.push(r);
  }
  return records;
}

function toType(e: Lwm2mPathValue, model: Lwm2mModel): Lwm2mValue {
  const t = modelType(model, e.path);
  return t === undefined ? e.value! : convertValue(e.value!, t, e.path);
}

/**
 * Records for one node at `path`. LwM2M-TS-Core 1.1 §7.4.4 examples: the first record's base
 * name is the requested path ("/3/0/" for an instance), names are relative to it.
 */
export function nodeToRecords(node: Lwm2mNode, path: Lwm2mPath, model: Lwm2mModel): SenmlRecord[] {
  const leaves = flattenNode(node, path);
  const leaf = node.kind === 'single-resource' || node.kind === 'resource-instance';
  const base = leaf ? path.toString() : `${path.toString()}/`;
  const prefix = path.segments.length;
  return leaves.map((l, i) => {
    const r: SenmlRecord = {};
    if (i === 0) r.bn = base;
    const rest = l.path.segments.slice(prefix).join('/');
    if (rest !== '') r.n = rest;
    setRecordValue(r, toType(l, model));
    return r;
  });
}

/** The node at `path` from records; every record must be under `path`. */
export function recordsToNode(
  records: readonly SenmlRecord[],
  path: Lwm2mPath,
  model: Lwm2mModel,
): Lwm2mNode {
  return nodeFromLeaves(path, model, 'SenML', () => recordsToPathValues(records, model));
}

/**
 * The four entry points of a SenML serialisation (JSON, RFC 8428 §4; CBOR, §6), from its
 * parser and formatter: node and composite decoding throw MALFORMED, encoding TYPE_MISMATCH.
 */
export function senmlCodec(
  label: string,
  parse: (bytes: Uint8Array) => SenmlRecord[],
  format: (records: readonly SenmlRecord[]) => Buffer,
) {
  return {
    decode: (bytes: Uint8Array, path: Lwm2mPath, model: Lwm2mModel): Lwm2mNode =>
      guard(
        'MALFORMED',
        () => `${label} ${path}`,
        () => recordsToNode(parse(bytes), path, model),
      ),
    encode: (node: Lwm2mNode, path: Lwm2mPath, model: Lwm2mModel): Buffer =>
      guard(
        'TYPE_MISMATCH',
        () => `${label} ${path}`,
        () => format(nodeToRecords(node, path, model)),
      ),
    decodeComposite: (bytes: Uint8Array, model: Lwm2mModel): Lwm2mPathValue[] =>
      guard('MALFORMED', label, () => recordsToPathValues(parse(bytes), model)),
    encodeComposite: (entries: readonly Lwm2mPathValue[], model: Lwm2mModel): Buffer =>
      guard('TYPE_MISMATCH', label, () => format(pathValuesToRecords(entries, model))),
  };
}
