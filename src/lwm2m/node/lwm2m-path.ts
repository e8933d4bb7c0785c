/**
 * A path in the object tree: `/{object}/{instance}/{resource}/{resource-instance}`, any prefix
 * of it, or the root `/`. LwM2M-TS-Core 1.1 §6.1 (resource model) and §7.1 (each id 0..65535).
 */
export type PathLevel = 'root' | 'object' | 'object-instance' | 'resource' | 'resource-instance';

const LEVELS: readonly PathLevel[] = [
  'root',
  'object',
  'object-instance',
  'resource',
  'resource-instance',
];

/** Thrown by `Lwm2mPath.parse` and the constructor on a malformed path. */
export class InvalidPathError extends Error {
  override readonly name = 'InvalidPathError';
  readonly code = 'INVALID_PATH';
}

// LwM2M-TS-Core 1.1 §6.1: Object ID, Object Instance ID, Resource ID and Resource Instance ID
// are each 16-bit unsigned integers. 65535 is reserved as an Object Instance ID (§7.1).
const MAX_ID = 65535;

export class Lwm2mPath {
  readonly segments: readonly number[];

  constructor(...segments: number[]) {
    if (segments.length > 4) throw new InvalidPathError(`path has ${segments.length} segments`);
    for (const s of segments) {
      if (!Number.isInteger(s) || s < 0 || s > MAX_ID) {
        throw new InvalidPathError(`path segment ${s} is not an integer 0..65535`);
      }
    }
    this.segments = Object.freeze([...segments]);
  }

  /** Parses `/3/0/1`, `3/0/1`, `/3/0/1/` and `/`. Throws InvalidPathError. */
  static parse(text: string): Lwm2mPath {
    let s = text.trim();
    if (s.startsWith('/')) s = s.slice(1);
    if (s.endsWith('/')) s = s.slice(0, -1);
    if (s === '') return ROOT;
    const parts = s.split('/');
    if (parts.length > 4) throw new InvalidPathError(`path "${text}" has more than 4 segments`);
    return new Lwm2mPath(
      ...parts.map((p) => {
        // No signs, no leading zeros beyond "0", no whitespace: an id is decimal digits.
        if (!/^(0|[1-9]\d{0,4})$/.test(p)) {
          throw new InvalidPathError(`path "${text}": segment "${p}" is not an id 0..65535`);
        }
        return Number(p);
      }),
    );
  }

  /** Parses, returning undefined instead of throwing. */
  static tryParse(text: string): Lwm2mPath | undefined {
    try {
      return Lwm2mPath.parse(text);
    } catch {
      return undefined;
    }
  }

  get level(): PathLevel {
    return LEVELS[this.segments.length]!;
  }

  get objectId(): number | undefined {
    return this.segments[0];
  }
  get instanceId(): number | undefined {
    return this.segments[1];
  }
  get resourceId(): number | undefined {
    return this.segments[2];
  }
  get resourceInstanceId(): number | undefined {
    return this.segments[3];
  }

  isRoot(): boolean {
    return this.segments.length === 0;
  }
  isObject(): boolean {
    return this.segments.length === 1;
  }
  isObjectInstance(): boolean {
    return this.segments.length === 2;
  }
  isResource(): boolean {
    return this.segments.length === 3;
  }
  isResourceInstance(): boolean {
    return this.segments.length === 4;
  }

  /** A path one level deeper. */
  append(id: number): Lwm2mPath {
    return new Lwm2mPath(...this.segments, id);
  }

  /** The path one level up; the root's parent is the root. */
  parent(): Lwm2mPath {
    return this.segments.length === 0 ? this : new Lwm2mPath(...this.segments.slice(0, -1));
  }

  /** True when `this` is `other` or one of its ancestors. */
  startsWith(other: Lwm2mPath): boolean {
    if (other.segments.length > this.segments.length) return false;
    return other.segments.every((s, i) => this.segments[i] === s);
  }

  equals(other: Lwm2mPath): boolean {
    return this.compareTo(other) === 0;
  }

  /** Depth-first order: `/3` < `/3/0` < `/3/0/1` < `/3/0/2` < `/3/1` < `/4`. */
  compareTo(other: Lwm2mPath): number {
    const n = Math.min(this.segments.length, other.segments.length);
    for (let i = 0; i < n; i++) {
      const d = this.segments[i]! - other.segments[i]!;
      if (d !== 0) return d;
    }
    return this.segments.length - other.segments.length;
  }

  static compare(a: Lwm2mPath, b: Lwm2mPath): number {
    return a.compareTo(b);
  }

  toString(): string {
    return `/${this.segments.join('/')}`;
  }

  toJSON(): string {
    return this.toString();
  }
}

const ROOT = new Lwm2mPath();

/** The root path `/`. */
export const ROOT_PATH: Lwm2mPath = ROOT;
