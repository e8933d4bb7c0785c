import type { ResourceType } from '../model/object-model.js';

/** The data types a value can have (a resource of type `none` carries no value). */
export type ValueType = Exclude<ResourceType, 'none'>;

/** An Objlnk value: LwM2M-TS-Core 1.1 Appendix C, "Object ID:Object Instance ID". */
export interface ObjectLink {
  readonly objectId: number;
  readonly instanceId: number;
}

/**
 * A typed value. Integers are `number` when they fit in a double exactly and `bigint` beyond
 * (LwM2M integers are 64-bit, LwM2M-TS-Core 1.1 Appendix C). Time is a Date at second precision.
 */
export type Lwm2mValue =
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'integer'; readonly value: number | bigint }
  | { readonly type: 'unsigned'; readonly value: number | bigint }
  | { readonly type: 'float'; readonly value: number }
  | { readonly type: 'boolean'; readonly value: boolean }
  | { readonly type: 'opaque'; readonly value: Buffer }
  | { readonly type: 'time'; readonly value: Date }
  | { readonly type: 'objlnk'; readonly value: ObjectLink }
  | { readonly type: 'corelnk'; readonly value: string };

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;
export const UINT64_MAX = 2n ** 64n - 1n;

/** Returns a number when the bigint fits exactly in a double, else the bigint. */
export function narrowInteger(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(v)
    : v;
}

function checkInteger(v: number | bigint, min: bigint, max: bigint, what: string): void {
  if (typeof v === 'number' && !Number.isSafeInteger(v)) {
    throw new RangeError(`${what} ${v} is not a safe integer (use a bigint)`);
  }
  const b = BigInt(v);
  if (b < min || b > max) throw new RangeError(`${what} ${v} is out of range`);
}

/** Constructors that check their argument (RangeError/TypeError on a bad one). */
export const Value = {
  string(value: string): Lwm2mValue {
    return { type: 'string', value };
  },
  integer(value: number | bigint): Lwm2mValue {
    checkInteger(value, INT64_MIN, INT64_MAX, 'integer');
    return { type: 'integer', value: typeof value === 'bigint' ? narrowInteger(value) : value };
  },
  unsigned(value: number | bigint): Lwm2mValue {
    checkInteger(value, 0n, UINT64_MAX, 'unsigned integer');
    return { type: 'unsigned', value: typeof value === 'bigint' ? narrowInteger(value) : value };
  },
  float(value: number): Lwm2mValue {
    return { type: 'float', value };
  },
  boolean(value: boolean): Lwm2mValue {
    return { type: 'boolean', value };
  },
  opaque(value: Uint8Array): Lwm2mValue {
    return { type: 'opaque', value: Buffer.from(value) };
  },
  /** A Date, or seconds since the epoch. */
  time(value: Date | number): Lwm2mValue {
    const d = typeof value === 'number' ? new Date(value * 1000) : value;
    if (Number.isNaN(d.getTime())) throw new RangeError('time is not a valid date');
    return { type: 'time', value: d };
  },
  objlnk(objectId: number, instanceId: number): Lwm2mValue {
    for (const x of [objectId, instanceId]) {
      if (!Number.isInteger(x) || x < 0 || x > 65535) {
        throw new RangeError(`object link id ${x} is not 0..65535`);
      }
    }
    return { type: 'objlnk', value: { objectId, instanceId } };
  },
  corelnk(value: string): Lwm2mValue {
    return { type: 'corelnk', value };
  },
} as const;

/** Seconds since the epoch of a time value (LwM2M time is whole seconds). */
export function timeToSeconds(d: Date): number {
  return Math.floor(d.getTime() / 1000);
}

/** Structural equality of two values (opaque by bytes, time by second). */
export function valuesEqual(a: Lwm2mValue, b: Lwm2mValue): boolean {
  if (a.type !== b.type) return false;
  switch (a.type) {
    case 'opaque':
      return a.value.equals(b.value as Buffer);
    case 'time':
      return timeToSeconds(a.value) === timeToSeconds(b.value as Date);
    case 'objlnk': {
      const o = b.value as ObjectLink;
      return a.value.objectId === o.objectId && a.value.instanceId === o.instanceId;
    }
    case 'integer':
    case 'unsigned':
      return BigInt(a.value) === BigInt(b.value as number | bigint);
    case 'float':
      return Object.is(a.value, b.value) || a.value === b.value;
    default:
      return a.value === b.value;
  }
}
