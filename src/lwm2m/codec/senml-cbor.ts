import { CborFloat, CborTag, type CborValue, readCbor, writeCbor } from './cbor.js';
import { CodecError } from './codec-error.js';
import { checkSenmlVersion, MAX_RECORDS, type SenmlRecord, senmlCodec } from './senml.js';

/** RFC 8428 §6 Table 4: the integer labels of the SenML fields. */
export const SenmlLabel = {
  bver: -1,
  bn: -2,
  bt: -3,
  bu: -4,
  bv: -5,
  bs: -6,
  n: 0,
  u: 1,
  v: 2,
  vs: 3,
  vb: 4,
  s: 5,
  t: 6,
  ut: 7,
  vd: 8,
} as const;

// LwM2M-TS-Core 1.1 §7.4.5: "vlo" has no integer label and is written as the text "vlo".
const VLO = 'vlo';

function expect<T = CborValue>(v: CborValue, ok: boolean, label: string, i: number): T {
  if (!ok)
    throw new CodecError('TYPE_MISMATCH', `SenML CBOR record ${i}: "${label}" has the wrong type`);
  return v as T;
}

function isNumber(v: CborValue): boolean {
  return typeof v === 'number' || typeof v === 'bigint' || v instanceof CborFloat;
}

/** The number of a CBOR integer or float (read with wrapFloats). */
function numberOf(v: CborValue): number | bigint {
  return v instanceof CborFloat ? v.value : (v as number | bigint);
}

function finite(v: number | bigint, label: string, i: number): number {
  const n = Number(v);
  if (!Number.isFinite(n)) {
    throw new CodecError('VALUE_OUT_OF_RANGE', `SenML CBOR record ${i}: "${label}" is not finite`);
  }
  return n;
}

/** Parses a SenML CBOR pack into records, checking every field's CBOR type. */
export function parseSenmlCbor(bytes: Uint8Array): SenmlRecord[] {
  // A pack is an array of maps, and a value may be tagged: three levels are all it needs.
  const doc = readCbor(bytes, { maxDepth: 3, wrapFloats: true });
  if (!Array.isArray(doc)) throw new CodecError('MALFORMED', 'SenML CBOR is not an array');
  if (doc.length > MAX_RECORDS) throw new CodecError('TOO_LARGE', 'too many SenML records');
  const records = doc.map((item, i) => {
    if (!(item instanceof Map)) throw new CodecError('MALFORMED', `SenML record ${i} is not a map`);
    const r: SenmlRecord = {};
    for (const [k, v] of item) {
      switch (k) {
        case SenmlLabel.bn:
          r.bn = expect<string>(v, typeof v === 'string', 'bn', i);
          break;
        case SenmlLabel.bt:
          r.bt = finite(numberOf(expect(v, isNumber(v), 'bt', i)), 'bt', i);
          break;
        case SenmlLabel.bu:
          r.bu = expect<string>(v, typeof v === 'string', 'bu', i);
          break;
        case SenmlLabel.bver:
          r.bver = finite(numberOf(expect(v, isNumber(v), 'bver', i)), 'bver', i);
          break;
        case SenmlLabel.bv:
          r.bv = finite(numberOf(expect(v, isNumber(v), 'bv', i)), 'bv', i);
          break;
        case SenmlLabel.n:
          r.n = expect<string>(v, typeof v === 'string', 'n', i);
          break;
        case SenmlLabel.u:
          r.u = expect<string>(v, typeof v === 'string', 'u', i);
          break;
        case SenmlLabel.t:
          r.t = finite(numberOf(expect(v, isNumber(v), 't', i)), 't', i);
          break;
        case SenmlLabel.v: {
          // Some clients (Anjay) tag a Time value with tag 1, epoch time (RFC 8949 §3.4.2).
          const timeTagged = v instanceof CborTag && Number(v.tag) === 1;
          const inner = timeTagged ? v.value : v;
          const n = numberOf(expect(inner, isNumber(inner), 'v', i));
          if (typeof n === 'number') finite(n, 'v', i);
          r.v = n;
          if (timeTagged) r.vTime = true;
          else if (inner instanceof CborFloat) r.vFloat = true;
          break;
        }
        case SenmlLabel.vs:
          r.vs = expect<string>(v, typeof v === 'string', 'vs', i);
          break;
        case SenmlLabel.vb:
          r.vb = expect<boolean>(v, typeof v === 'boolean', 'vb', i);
          break;
        case SenmlLabel.vd:
          r.vd = Buffer.from(expect<Uint8Array>(v, v instanceof Uint8Array, 'vd', i));
          break;
        case VLO:
          r.vlo = expect<string>(v, typeof v === 'string', 'vlo', i);
          break;
        default:
          // RFC 8428 §4.4 and §6: a text label ending in "_" must be understood.
          if (typeof k === 'string' && k.endsWith('_')) {
            throw new CodecError('MALFORMED', `SenML record ${i}: must-understand field "${k}"`);
          }
      }
    }
    return r;
  });
  checkSenmlVersion(records);
  return records;
}

/** Records as CBOR, fields in the order of the RFC 8428 §6 example. */
export function formatSenmlCbor(records: readonly SenmlRecord[]): Buffer {
  return writeCbor(
    records.map((r) => {
      const m = new Map<CborValue, CborValue>();
      if (r.bn !== undefined) m.set(SenmlLabel.bn, r.bn);
      if (r.bt !== undefined) m.set(SenmlLabel.bt, r.bt);
      if (r.bu !== undefined) m.set(SenmlLabel.bu, r.bu);
      if (r.bver !== undefined) m.set(SenmlLabel.bver, r.bver);
      if (r.bv !== undefined) m.set(SenmlLabel.bv, r.bv);
      if (r.n !== undefined) m.set(SenmlLabel.n, r.n);
      if (r.u !== undefined) m.set(SenmlLabel.u, r.u);
      if (r.t !== undefined) m.set(SenmlLabel.t, r.t);
      if (r.v !== undefined) {
        m.set(SenmlLabel.v, r.vFloat && typeof r.v === 'number' ? new CborFloat(r.v) : r.v);
      }
      if (r.vs !== undefined) m.set(SenmlLabel.vs, r.vs);
      if (r.vb !== undefined) m.set(SenmlLabel.vb, r.vb);
      if (r.vd !== undefined) m.set(SenmlLabel.vd, r.vd);
      if (r.vlo !== undefined) m.set(VLO, r.vlo);
      return m;
    }),
  );
}

const codec = senmlCodec('SenML CBOR', parseSenmlCbor, formatSenmlCbor);
export const decodeSenmlCbor = codec.decode;
export const encodeSenmlCbor = codec.encode;
export const decodeSenmlCborComposite = codec.decodeComposite;
export const encodeSenmlCborComposite = codec.encodeComposite;
