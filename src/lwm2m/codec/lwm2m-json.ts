/**
 * application/vnd.oma.lwm2m+json (11543, and 1543 before registration), the LwM2M 1.0 JSON
 * format: LwM2M-TS 1.0 §6.4.4 (and TS-Core 1.1 §7.4.5 for 1.1 clients that still use it).
 * One object {"bn": base name, "bt": base time, "e": [entries]}; an entry has "n" (name relative
 * to bn), one of "v" (number), "bv" (boolean), "ov" (object link "oid:iid") or "sv" (string;
 * opaque as base64), and an optional "t" relative to "bt".
 */
import type { Lwm2mModel } from '../model/object-model.js';
import type { Lwm2mNode } from '../node/lwm2m-node.js';
import { Lwm2mPath } from '../node/lwm2m-path.js';
import type { Lwm2mPathValue } from '../node/path-value.js';
import { decodeUtf8 } from './byte-reader.js';
import { CodecError, guard } from './codec-error.js';
import {
  MAX_RECORDS,
  nodeToRecords,
  recordsToNode,
  recordsToPathValues,
  type SenmlRecord,
} from './senml.js';
import { modelType } from './value-converter.js';

const BIG_V = /"v"\s*:\s*(-?\d{16,})(?=\s*[,}])/g;
const BIG_MARK = '\u0000big:';
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function str(o: Record<string, unknown>, key: string, where: string): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string')
    throw new CodecError('TYPE_MISMATCH', `${where}: "${key}" not a string`);
  return v;
}

function num(o: Record<string, unknown>, key: string, where: string): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new CodecError('TYPE_MISMATCH', `${where}: "${key}" is not a finite number`);
  }
  return v;
}

/** Parses the JSON document into SenML-shaped records, typed with the model where needed. */
export function parseLwm2mJson(bytes: Uint8Array, model: Lwm2mModel): SenmlRecord[] {
  const text = decodeUtf8(bytes, 'LwM2M JSON');
  let doc: unknown;
  try {
    doc = JSON.parse(text.replace(BIG_V, (_m, d: string) => `"v":"\\u0000big:${d}"`));
  } catch (e) {
    throw new CodecError('MALFORMED', `LwM2M JSON: ${(e as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new CodecError('MALFORMED', 'LwM2M JSON is not an object');
  }
  const top = doc as Record<string, unknown>;
  const bn = str(top, 'bn', 'LwM2M JSON') ?? '';
  const bt = num(top, 'bt', 'LwM2M JSON');
  const entries = top.e;
  // LwM2M-TS 1.0 §6.4.4: "e" is the array of resource entries.
  if (!Array.isArray(entries)) throw new CodecError('MALFORMED', 'LwM2M JSON has no "e" array');
  if (entries.length > MAX_RECORDS)
    throw new CodecError('TOO_LARGE', 'too many LwM2M JSON entries');
  return entries.map((item, i) => {
    const where = `LwM2M JSON entry ${i}`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new CodecError('MALFORMED', `${where} is not an object`);
    }
    const o = item as Record<string, unknown>;
    const r: SenmlRecord = {};
    if (i === 0) {
      r.bn = bn;
      if (bt !== undefined) r.bt = bt;
    }
    const n = str(o, 'n', where);
    if (n !== undefined) r.n = n;
    const t = num(o, 't', where);
    if (t !== undefined) r.t = t;
    const v = o.v;
    if (typeof v === 'string' && v.startsWith(BIG_MARK)) r.v = BigInt(v.slice(BIG_MARK.length));
    else if (v !== undefined) r.v = num(o, 'v', where)!;
    const bv = o.bv;
    if (bv !== undefined) {
      if (typeof bv !== 'boolean') throw new CodecError('TYPE_MISMATCH', `${where}: "bv"`);
      r.vb = bv;
    }
    const ov = str(o, 'ov', where);
    if (ov !== undefined) r.vlo = ov;
    const sv = str(o, 'sv', where);
    if (sv !== undefined) {
      // LwM2M-TS 1.0 §6.4.4: an Opaque value travels in "sv" as base64.
      let path: Lwm2mPath | undefined;
      try {
        path = Lwm2mPath.parse(bn + (n ?? ''));
      } catch {
        path = undefined; // reported by the record resolution with its own code
      }
      if (path && modelType(model, path) === 'opaque') {
        if (!BASE64.test(sv)) throw new CodecError('TYPE_MISMATCH', `${where}: "sv" is not base64`);
        r.vd = Buffer.from(sv, 'base64');
      } else r.vs = sv;
    }
    return r;
  });
}

/** Serialises records as the LwM2M 1.0 JSON document. */
export function formatLwm2mJson(records: readonly SenmlRecord[]): Buffer {
  const first = records[0];
  const head: string[] = [];
  head.push(`"bn":${JSON.stringify(first?.bn ?? '/')}`);
  if (first?.bt !== undefined) head.push(`"bt":${JSON.stringify(first.bt)}`);
  const entries = records.map((r) => {
    const f: string[] = [];
    if (r.n !== undefined) f.push(`"n":${JSON.stringify(r.n)}`);
    if (r.v !== undefined) {
      if (typeof r.v === 'number' && !Number.isFinite(r.v)) {
        throw new CodecError('VALUE_OUT_OF_RANGE', `${r.v} has no JSON form`);
      }
      f.push(`"v":${r.v.toString()}`);
    }
    if (r.vs !== undefined) f.push(`"sv":${JSON.stringify(r.vs)}`);
    if (r.vd !== undefined) f.push(`"sv":"${r.vd.toString('base64')}"`);
    if (r.vb !== undefined) f.push(`"bv":${r.vb}`);
    if (r.vlo !== undefined) f.push(`"ov":${JSON.stringify(r.vlo)}`);
    if (r.t !== undefined) f.push(`"t":${JSON.stringify(r.t)}`);
    return `{${f.join(',')}}`;
  });
  return Buffer.from(`{${head.join(',')},"e":[${entries.join(',')}]}`, 'utf8');
}

export function decodeLwm2mJson(bytes: Uint8Array, path: Lwm2mPath, model: Lwm2mModel): Lwm2mNode {
  return guard(
    'MALFORMED',
    () => `LwM2M JSON ${path}`,
    () => recordsToNode(parseLwm2mJson(bytes, model), path, model),
  );
}

export function encodeLwm2mJson(node: Lwm2mNode, path: Lwm2mPath, model: Lwm2mModel): Buffer {
  return guard(
    'TYPE_MISMATCH',
    () => `LwM2M JSON ${path}`,
    () => {
      const records = nodeToRecords(node, path, model);
      // An empty object or instance still names itself.
      if (records.length === 0) return Buffer.from(`{"bn":"${path}/","e":[]}`);
      return formatLwm2mJson(records);
    },
  );
}

/** The entries with their times (a notification with historical values, LwM2M-TS 1.0 §6.4.4). */
export function decodeLwm2mJsonComposite(bytes: Uint8Array, model: Lwm2mModel): Lwm2mPathValue[] {
  return guard('MALFORMED', 'LwM2M JSON', () =>
    recordsToPathValues(parseLwm2mJson(bytes, model), model),
  );
}

/**
 * Timestamped entries as LwM2M JSON (LwM2M-TS 1.0 §6.4.4): names relative to `path`, one
 * top-level "bt" (the earliest time) and each entry's "t" relative to it.
 */
export function encodeLwm2mJsonTimestamped(
  entries: readonly Lwm2mPathValue[],
  path: Lwm2mPath,
  model: Lwm2mModel,
): Buffer {
  return guard(
    'TYPE_MISMATCH',
    () => `LwM2M JSON ${path}`,
    () => {
      const times = entries.map((e) => e.time).filter((t): t is number => t !== undefined);
      const bt = times.length > 0 ? Math.min(...times) : undefined;
      const prefix = path.segments.length;
      const records = entries.map((e, i) => {
        if (!e.path.startsWith(path)) {
          throw new CodecError('INVALID_PATH', `${e.path} is not under ${path}`);
        }
        if (e.value === undefined) throw new CodecError('MALFORMED', `${e.path} has no value`);
        const node = { kind: 'resource-instance' as const, id: 0, value: e.value };
        const [r] = nodeToRecords(node, e.path, model);
        const out: SenmlRecord = { ...r! };
        delete out.bn;
        const rest = e.path.segments.slice(prefix).join('/');
        if (rest !== '') out.n = rest;
        else delete out.n;
        if (i === 0) {
          out.bn = path.isResource() || path.isResourceInstance() ? `${path}` : `${path}/`;
          if (bt !== undefined) out.bt = bt;
        }
        if (e.time !== undefined && bt !== undefined) out.t = e.time - bt;
        return out;
      });
      if (records.length === 0) return Buffer.from(`{"bn":"${path}/","e":[]}`);
      return formatLwm2mJson(records);
    },
  );
}
