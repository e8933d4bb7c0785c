/**
 * CoAP option numbers and their definitions (RFC 7252 §5.10, RFC 7641 §2, RFC 7959 §2.1, §4,
 * RFC 7967 §2), with the helpers that read and build option values.
 */
export const OptionNumber = {
  IfMatch: 1,
  UriHost: 3,
  ETag: 4,
  IfNoneMatch: 5,
  Observe: 6,
  UriPort: 7,
  LocationPath: 8,
  UriPath: 11,
  ContentFormat: 12,
  MaxAge: 14,
  UriQuery: 15,
  Accept: 17,
  LocationQuery: 20,
  Block2: 23,
  Block1: 27,
  Size2: 28,
  ProxyUri: 35,
  ProxyScheme: 39,
  Size1: 60,
  NoResponse: 258,
} as const;

export interface CoapOption {
  readonly number: number;
  readonly value: Buffer;
}

type OptionFormat = 'empty' | 'opaque' | 'uint' | 'string';

interface OptionDefinition {
  readonly name: string;
  readonly format: OptionFormat;
  readonly min: number;
  readonly max: number;
  readonly repeatable: boolean;
}

// RFC 7252 §5.10 (table 4), RFC 7641 §2, RFC 7959 §2.1 and §4, RFC 7967 §2.
const definitions = new Map<number, OptionDefinition>([
  [1, { name: 'If-Match', format: 'opaque', min: 0, max: 8, repeatable: true }],
  [3, { name: 'Uri-Host', format: 'string', min: 1, max: 255, repeatable: false }],
  [4, { name: 'ETag', format: 'opaque', min: 1, max: 8, repeatable: true }],
  [5, { name: 'If-None-Match', format: 'empty', min: 0, max: 0, repeatable: false }],
  [6, { name: 'Observe', format: 'uint', min: 0, max: 3, repeatable: false }],
  [7, { name: 'Uri-Port', format: 'uint', min: 0, max: 2, repeatable: false }],
  [8, { name: 'Location-Path', format: 'string', min: 0, max: 255, repeatable: true }],
  [11, { name: 'Uri-Path', format: 'string', min: 0, max: 255, repeatable: true }],
  [12, { name: 'Content-Format', format: 'uint', min: 0, max: 2, repeatable: false }],
  [14, { name: 'Max-Age', format: 'uint', min: 0, max: 4, repeatable: false }],
  [15, { name: 'Uri-Query', format: 'string', min: 0, max: 255, repeatable: true }],
  [17, { name: 'Accept', format: 'uint', min: 0, max: 2, repeatable: false }],
  [20, { name: 'Location-Query', format: 'string', min: 0, max: 255, repeatable: true }],
  [23, { name: 'Block2', format: 'uint', min: 0, max: 3, repeatable: false }],
  [27, { name: 'Block1', format: 'uint', min: 0, max: 3, repeatable: false }],
  [28, { name: 'Size2', format: 'uint', min: 0, max: 4, repeatable: false }],
  [35, { name: 'Proxy-Uri', format: 'string', min: 1, max: 1034, repeatable: false }],
  [39, { name: 'Proxy-Scheme', format: 'string', min: 1, max: 255, repeatable: false }],
  [60, { name: 'Size1', format: 'uint', min: 0, max: 4, repeatable: false }],
  [258, { name: 'No-Response', format: 'uint', min: 0, max: 1, repeatable: false }],
]);

export function optionName(number: number): string {
  return definitions.get(number)?.name ?? String(number);
}

// RFC 7252 §5.4.6: an odd option number is critical, an even one elective.
export const isCritical = (number: number): boolean => (number & 1) === 1;

/**
 * The first option that must be treated as unrecognised: unknown, repeated though not repeatable
 * (RFC 7252 §5.4.5), or with a length outside its range (§5.4.3). `undefined` when all are fine.
 * Only critical ones matter to the caller; elective ones are silently ignored (§5.4.1).
 */
export function findUnrecognisedCritical(
  options: readonly CoapOption[],
  extraKnown: ReadonlySet<number> = new Set(),
): number | undefined {
  let previous = -1;
  for (const option of options) {
    const repeated = option.number === previous;
    previous = option.number;
    if (!isCritical(option.number)) continue;
    if (extraKnown.has(option.number)) continue;
    const def = definitions.get(option.number);
    if (!def) return option.number;
    if (repeated && !def.repeatable) return option.number;
    if (option.value.length < def.min || option.value.length > def.max) return option.number;
  }
  return undefined;
}

/** Shortest big-endian encoding of an unsigned integer (RFC 7252 §3.2: zero is empty). */
export function encodeUint(value: number): Buffer {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`option uint out of range: ${value}`);
  }
  if (value === 0) return Buffer.alloc(0);
  const bytes: number[] = [];
  let v = value;
  while (v > 0) {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  }
  return Buffer.from(bytes);
}

/** Reads an unsigned integer option value (at most 4 bytes; longer values read as their tail). */
export function decodeUint(value: Buffer): number {
  let n = 0;
  const start = Math.max(0, value.length - 4);
  for (let i = start; i < value.length; i++) n = n * 256 + (value[i] ?? 0);
  return n;
}

export function getOption(options: readonly CoapOption[], number: number): Buffer | undefined {
  for (const o of options) if (o.number === number) return o.value;
  return undefined;
}

export function getOptions(options: readonly CoapOption[], number: number): Buffer[] {
  const out: Buffer[] = [];
  for (const o of options) if (o.number === number) out.push(o.value);
  return out;
}

export function getUintOption(options: readonly CoapOption[], number: number): number | undefined {
  const v = getOption(options, number);
  return v === undefined ? undefined : decodeUint(v);
}

export function getStringOptions(options: readonly CoapOption[], number: number): string[] {
  return getOptions(options, number).map((v) => v.toString('utf8'));
}

export function uintOption(number: number, value: number): CoapOption {
  return { number, value: encodeUint(value) };
}

export function stringOption(number: number, value: string): CoapOption {
  return { number, value: Buffer.from(value, 'utf8') };
}

/** Options sorted by number; a stable sort keeps repeated options in their given order. */
export function sortOptions(options: readonly CoapOption[]): CoapOption[] {
  return [...options].sort((a, b) => a.number - b.number);
}

/** `options` without any option numbered in `numbers`. */
export function withoutOptions(options: readonly CoapOption[], ...numbers: number[]): CoapOption[] {
  return options.filter((o) => !numbers.includes(o.number));
}

/** Splits a path such as `/1/0/5` (or takes segments as given) into Uri-Path segments. */
export function pathSegments(path: string | readonly string[] | undefined): string[] {
  if (path === undefined) return [];
  if (typeof path !== 'string') return [...path];
  const trimmed = path.replace(/^\/+/, '');
  return trimmed === '' ? [] : trimmed.split('/');
}
