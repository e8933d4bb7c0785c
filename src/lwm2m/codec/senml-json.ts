import { decodeUtf8 } from './byte-reader.js';
import { CodecError } from './codec-error.js';
import { checkSenmlVersion, MAX_RECORDS, type SenmlRecord, senmlCodec } from './senml.js';

// RFC 8428 §5: vd is base64url (RFC 4648 §5) without padding. Standard base64 and padding are
// accepted on input, since some clients send them.
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

// JSON.parse turns integers past 2^53 into inexact doubles; long integer literals of "v" are
// kept as text and read as bigint. Inside a valid JSON string `"v"` cannot be followed by `:`
// (a quote inside a string is escaped), so this only ever matches a real "v" member.
const BIG_V = /"v"\s*:\s*(-?\d{16,})(?=\s*[,}])/g;
const BIG_MARK = '\u0000big:';

function field<T>(
  obj: Record<string, unknown>,
  key: string,
  type: string,
  i: number,
): T | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  if (typeof v !== type) {
    throw new CodecError('TYPE_MISMATCH', `SenML record ${i}: "${key}" is not a ${type}`);
  }
  return v as T;
}

function finite(n: number | undefined, key: string, i: number): number | undefined {
  if (n !== undefined && !Number.isFinite(n)) {
    throw new CodecError('VALUE_OUT_OF_RANGE', `SenML record ${i}: "${key}" is not finite`);
  }
  return n;
}

/** Parses a SenML JSON pack into records, checking every field's JSON type. */
export function parseSenmlJson(bytes: Uint8Array): SenmlRecord[] {
  const text = decodeUtf8(bytes, 'SenML JSON');
  let doc: unknown;
  try {
    // The mark starts with an escaped NUL, which no real "v" string could hold unnoticed.
    doc = JSON.parse(text.replace(BIG_V, (_m, digits: string) => `"v":"\\u0000big:${digits}"`));
  } catch (e) {
    throw new CodecError('MALFORMED', `SenML JSON: ${(e as Error).message}`);
  }
  // RFC 8428 §5: a SenML pack is a JSON array of record objects.
  if (!Array.isArray(doc)) throw new CodecError('MALFORMED', 'SenML JSON is not an array');
  if (doc.length > MAX_RECORDS) throw new CodecError('TOO_LARGE', 'too many SenML records');
  const records = doc.map((item, i) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new CodecError('MALFORMED', `SenML record ${i} is not an object`);
    }
    const o = item as Record<string, unknown>;
    const r: SenmlRecord = {};
    for (const key of Object.keys(o)) {
      // RFC 8428 §4.4: a field whose label ends in "_" must be understood, or the pack refused.
      if (key.endsWith('_')) {
        throw new CodecError('MALFORMED', `SenML record ${i}: must-understand field "${key}"`);
      }
    }
    const bn = field<string>(o, 'bn', 'string', i);
    const bu = field<string>(o, 'bu', 'string', i);
    const bver = finite(field<number>(o, 'bver', 'number', i), 'bver', i);
    const u = field<string>(o, 'u', 'string', i);
    const bt = finite(field<number>(o, 'bt', 'number', i), 'bt', i);
    const bv = finite(field<number>(o, 'bv', 'number', i), 'bv', i);
    const n = field<string>(o, 'n', 'string', i);
    const t = finite(field<number>(o, 't', 'number', i), 't', i);
    const vs = field<string>(o, 'vs', 'string', i);
    const vb = field<boolean>(o, 'vb', 'boolean', i);
    const vd = field<string>(o, 'vd', 'string', i);
    const vlo = field<string>(o, 'vlo', 'string', i);
    if (bn !== undefined) r.bn = bn;
    if (bt !== undefined) r.bt = bt;
    if (bu !== undefined) r.bu = bu;
    if (bver !== undefined) r.bver = bver;
    if (bv !== undefined) r.bv = bv;
    if (n !== undefined) r.n = n;
    if (u !== undefined) r.u = u;
    if (t !== undefined) r.t = t;
    const v = o.v;
    if (typeof v === 'string' && v.startsWith(BIG_MARK)) {
      r.v = BigInt(v.slice(BIG_MARK.length));
    } else if (v !== undefined) {
      if (typeof v !== 'number') throw new CodecError('TYPE_MISMATCH', `SenML record ${i}: "v"`);
      r.v = finite(v, 'v', i)!;
    }
    if (vs !== undefined) r.vs = vs;
    if (vb !== undefined) r.vb = vb;
    if (vd !== undefined) {
      if (!BASE64.test(vd)) throw new CodecError('TYPE_MISMATCH', `SenML record ${i}: "vd"`);
      r.vd = Buffer.from(vd.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    }
    if (vlo !== undefined) r.vlo = vlo;
    return r;
  });
  checkSenmlVersion(records);
  return records;
}

function num(v: number | bigint): string {
  if (typeof v === 'bigint') return v.toString();
  if (!Number.isFinite(v)) throw new CodecError('VALUE_OUT_OF_RANGE', `${v} has no JSON form`);
  return JSON.stringify(v);
}

/** Serialises records with the fields in the order of the RFC 8428 §5 examples. */
export function formatSenmlJson(records: readonly SenmlRecord[]): Buffer {
  const parts = records.map((r) => {
    const f: string[] = [];
    if (r.bn !== undefined) f.push(`"bn":${JSON.stringify(r.bn)}`);
    if (r.bt !== undefined) f.push(`"bt":${num(r.bt)}`);
    if (r.bu !== undefined) f.push(`"bu":${JSON.stringify(r.bu)}`);
    if (r.bver !== undefined) f.push(`"bver":${num(r.bver)}`);
    if (r.bv !== undefined) f.push(`"bv":${num(r.bv)}`);
    if (r.n !== undefined) f.push(`"n":${JSON.stringify(r.n)}`);
    if (r.u !== undefined) f.push(`"u":${JSON.stringify(r.u)}`);
    if (r.t !== undefined) f.push(`"t":${num(r.t)}`);
    if (r.v !== undefined) f.push(`"v":${num(r.v)}`);
    if (r.vs !== undefined) f.push(`"vs":${JSON.stringify(r.vs)}`);
    if (r.vb !== undefined) f.push(`"vb":${r.vb}`);
    if (r.vd !== undefined) f.push(`"vd":"${r.vd.toString('base64url')}"`);
    if (r.vlo !== undefined) f.push(`"vlo":${JSON.stringify(r.vlo)}`);
    return `{${f.join(',')}}`;
  });
  return Buffer.from(`[${parts.join(',')}]`, 'utf8');
}

const codec = senmlCodec('SenML JSON', parseSenmlJson, formatSenmlJson);
export const decodeSenmlJson = codec.decode;
export const encodeSenmlJson = codec.encode;
export const decodeSenmlJsonComposite = codec.decodeComposite;
export const encodeSenmlJsonComposite = codec.encodeComposite;
