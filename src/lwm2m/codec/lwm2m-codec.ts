/**
 * Encoders and decoders chosen by content format (the shape of Leshan's LwM2mEncoder and
 * LwM2mDecoder). Every entry point throws nothing but CodecError.
 */
import type { Lwm2mModel } from '../model/object-model.js';
import type { Lwm2mNode, Lwm2mResource } from '../node/lwm2m-node.js';
import type { Lwm2mPath } from '../node/lwm2m-path.js';
import { buildNode, flattenNode, groupByTime, type Lwm2mPathValue } from '../node/path-value.js';
import { ByteReader } from './byte-reader.js';
import { CodecError, guard } from './codec-error.js';
import { ContentFormat, contentFormatName } from './content-format.js';
import {
  decodeLwm2mCbor,
  decodeLwm2mCborComposite,
  encodeLwm2mCbor,
  encodeLwm2mCborComposite,
} from './lwm2m-cbor.js';
import {
  decodeLwm2mJson,
  decodeLwm2mJsonComposite,
  encodeLwm2mJson,
  encodeLwm2mJsonTimestamped,
} from './lwm2m-json.js';
import { decodeOpaque, encodeOpaque } from './opaque.js';
import { decodePlainCbor, encodePlainCbor } from './plain-cbor.js';
import {
  decodeSenmlCbor,
  decodeSenmlCborComposite,
  encodeSenmlCbor,
  encodeSenmlCborComposite,
} from './senml-cbor.js';
import {
  decodeSenmlJson,
  decodeSenmlJsonComposite,
  encodeSenmlJson,
  encodeSenmlJsonComposite,
} from './senml-json.js';
import { decodeText, encodeText } from './text.js';
import { decodeTlv, encodeTlv, readTlvs, TlvType } from './tlv.js';

/** Segments of the path of each kind of node (LwM2M-TS-Core 1.1 §6.1). */
export const NODE_DEPTH: Record<Lwm2mNode['kind'], number> = {
  object: 1,
  'object-instance': 2,
  'single-resource': 3,
  'multiple-resource': 3,
  'resource-instance': 4,
};

type NodeDecoder = (bytes: Uint8Array, path: Lwm2mPath, model: Lwm2mModel) => Lwm2mNode;
type NodeEncoder = (node: Lwm2mNode, path: Lwm2mPath, model: Lwm2mModel) => Buffer;
type CompositeDecoder = (bytes: Uint8Array, model: Lwm2mModel) => Lwm2mPathValue[];
type CompositeEncoder = (entries: readonly Lwm2mPathValue[], model: Lwm2mModel) => Buffer;

const nodeDecoders = new Map<number, NodeDecoder>([
  [ContentFormat.TEXT, decodeText],
  [ContentFormat.OPAQUE, decodeOpaque],
  [ContentFormat.CBOR, decodePlainCbor],
  [ContentFormat.TLV, decodeTlv],
  [ContentFormat.OLD_TLV, decodeTlv],
  [ContentFormat.SENML_JSON, decodeSenmlJson],
  [ContentFormat.SENML_CBOR, decodeSenmlCbor],
  [ContentFormat.LWM2M_CBOR, decodeLwm2mCbor],
  [ContentFormat.JSON, decodeLwm2mJson],
  [ContentFormat.OLD_JSON, decodeLwm2mJson],
]);

const nodeEncoders = new Map<number, NodeEncoder>([
  [ContentFormat.TEXT, encodeText],
  [ContentFormat.OPAQUE, encodeOpaque],
  [ContentFormat.CBOR, encodePlainCbor],
  [ContentFormat.TLV, encodeTlv],
  [ContentFormat.OLD_TLV, encodeTlv],
  [ContentFormat.SENML_JSON, encodeSenmlJson],
  [ContentFormat.SENML_CBOR, encodeSenmlCbor],
  [ContentFormat.LWM2M_CBOR, encodeLwm2mCbor],
  [ContentFormat.JSON, encodeLwm2mJson],
  [ContentFormat.OLD_JSON, encodeLwm2mJson],
]);

const compositeDecoders = new Map<number, CompositeDecoder>([
  [ContentFormat.SENML_JSON, decodeSenmlJsonComposite],
  [ContentFormat.SENML_CBOR, decodeSenmlCborComposite],
  [ContentFormat.LWM2M_CBOR, decodeLwm2mCborComposite],
]);

// Formats whose entries carry time (for decodeTimestamped): SenML and the old LwM2M JSON,
// which is no composite format (LwM2M-TS-Core 1.1 §6.3.8: composite operations use SenML
// JSON or CBOR; 1.2 adds LwM2M CBOR).
const timedDecoders = new Map<number, CompositeDecoder>([
  [ContentFormat.SENML_JSON, decodeSenmlJsonComposite],
  [ContentFormat.SENML_CBOR, decodeSenmlCborComposite],
  [ContentFormat.JSON, decodeLwm2mJsonComposite],
  [ContentFormat.OLD_JSON, decodeLwm2mJsonComposite],
]);

const compositeEncoders = new Map<number, CompositeEncoder>([
  [ContentFormat.SENML_JSON, encodeSenmlJsonComposite],
  [ContentFormat.SENML_CBOR, encodeSenmlCborComposite],
  [ContentFormat.LWM2M_CBOR, encodeLwm2mCborComposite],
]);

/**
 * Decodes `bytes` of content format `format` into the node at `path` (object, object
 * instance, resource or resource instance by the path's level), typed by `model`.
 * Throws CodecError: UNSUPPORTED_FORMAT (4.15) for a format it does not decode, a 4.00 code
 * for a payload that does not decode.
 */
export function decode(
  bytes: Uint8Array,
  format: number,
  path: Lwm2mPath,
  model: Lwm2mModel,
): Lwm2mNode {
  const decoder = nodeDecoders.get(format);
  if (!decoder) {
    throw new CodecError('UNSUPPORTED_FORMAT', `cannot decode ${contentFormatName(format)}`);
  }
  return decoder(bytes, path, model);
}

/**
 * Encodes `node`, found at `path`, in content format `format`, with values converted to the
 * model's types. Throws CodecError: NOT_ACCEPTABLE (4.06) when the format cannot hold the node
 * or is not one we encode; TYPE_MISMATCH/VALUE_OUT_OF_RANGE when a value does not fit.
 */
export function encode(
  node: Lwm2mNode,
  format: number,
  path: Lwm2mPath,
  model: Lwm2mModel,
): Buffer {
  const encoder = nodeEncoders.get(format);
  if (!encoder)
    throw new CodecError('NOT_ACCEPTABLE', `cannot encode ${contentFormatName(format)}`);
  // A node sits at its own path, or at its parent's: then it is written at its own, except an
  // instance sent to its object (a Create), which TLV wraps and the others name in full.
  const depth = NODE_DEPTH[node.kind];
  if (path.segments.length === depth - 1 && node.kind !== 'object-instance') {
    return encoder(node, path.append(node.id), model);
  }
  if (path.segments.length !== depth && path.segments.length !== depth - 1) {
    throw new CodecError('INVALID_PATH', `a ${node.kind} cannot be written at ${path}`);
  }
  return encoder(node, path, model);
}

/** Decodes a composite payload (Read-Composite, Write-Composite, Send) into path-values. */
export function decodeComposite(
  bytes: Uint8Array,
  format: number,
  model: Lwm2mModel,
): Lwm2mPathValue[] {
  const decoder = compositeDecoders.get(format);
  if (!decoder) {
    throw new CodecError(
      'UNSUPPORTED_FORMAT',
      `${contentFormatName(format)} is not a composite format`,
    );
  }
  return decoder(bytes, model);
}

/** Encodes path-values as a composite payload (SenML JSON, SenML CBOR, LwM2M CBOR). */
export function encodeComposite(
  entries: readonly Lwm2mPathValue[],
  format: number,
  model: Lwm2mModel,
): Buffer {
  const encoder = compositeEncoders.get(format);
  if (!encoder) {
    throw new CodecError(
      'NOT_ACCEPTABLE',
      `${contentFormatName(format)} is not a composite format`,
    );
  }
  return encoder(entries, model);
}

/** True when `decode` accepts `format`. */
export function canDecode(format: number): boolean {
  return nodeDecoders.has(format);
}

/** True when `encode` accepts `format`. */
export function canEncode(format: number): boolean {
  return nodeEncoders.has(format);
}

/** True when the composite entry points accept `format`. */
export function isCompositeSupported(format: number): boolean {
  return compositeDecoders.has(format) && compositeEncoders.has(format);
}

/** One new object instance of a Create payload; `id` undefined leaves the choice to the client. */
export interface CreateInstance {
  readonly id: number | undefined;
  readonly resources: ReadonlyMap<number, Lwm2mResource>;
}

/**
 * Decodes a Create payload sent to `objectPath` (LwM2M-TS 1.0 §5.4.6, TS-Core 1.1 §6.3.6):
 * object instances with their ids, or, in TLV, bare resources for an instance whose id the
 * client picks.
 */
export function decodeCreate(
  bytes: Uint8Array,
  format: number,
  objectPath: Lwm2mPath,
  model: Lwm2mModel,
): CreateInstance[] {
  if (!objectPath.isObject()) {
    throw new CodecError('INVALID_PATH', `Create targets an object, not ${objectPath}`);
  }
  if (format === ContentFormat.TLV || format === ContentFormat.OLD_TLV) {
    const bare = guard(
      'MALFORMED',
      () => `TLV ${objectPath}`,
      () => {
        const tlvs = readTlvs(new ByteReader(bytes));
        return tlvs.length > 0 && tlvs.every((t) => t.type !== TlvType.OBJECT_INSTANCE);
      },
    );
    if (bare) {
      // The instance path only serves model look-ups; the id stays for the client to choose.
      const node = decodeTlv(bytes, objectPath.append(0), model);
      if (node.kind !== 'object-instance') throw new CodecError('UNEXPECTED_NODE', 'Create');
      return [{ id: undefined, resources: node.resources }];
    }
  }
  const node = decode(bytes, format, objectPath, model);
  if (node.kind !== 'object') throw new CodecError('UNEXPECTED_NODE', `${objectPath}: Create`);
  return [...node.instances.values()].map((i) => ({ id: i.id, resources: i.resources }));
}

/** One node at one instant: a notification or Send with historical values. */
export interface TimestampedNode {
  /** Seconds since the epoch (or relative to now below 2^28, RFC 8428 §4.5.3); absent: now. */
  readonly time: number | undefined;
  readonly node: Lwm2mNode;
}

/**
 * Decodes a payload that may carry several timestamped values of the node at `path`
 * (LwM2M-TS 1.0 §6.4.4 JSON with "bt"/"t", TS-Core 1.1 §7.4.4 SenML): one node per instant,
 * oldest first, the untimed one first. Formats without time give one untimed node.
 */
export function decodeTimestamped(
  bytes: Uint8Array,
  format: number,
  path: Lwm2mPath,
  model: Lwm2mModel,
): TimestampedNode[] {
  const composite = timedDecoders.get(format);
  if (!composite) {
    return [{ time: undefined, node: decode(bytes, format, path, model) }];
  }
  const entries = composite(bytes, model);
  const out: TimestampedNode[] = [];
  for (const [time, group] of groupByTime(entries)) {
    for (const e of group) {
      if (!e.path.startsWith(path)) {
        throw new CodecError('INVALID_PATH', `${e.path} is not under ${path}`);
      }
    }
    let node: Lwm2mNode | undefined;
    try {
      node = buildNode(path, group, model);
    } catch (e) {
      throw new CodecError('UNEXPECTED_NODE', `${path}: ${(e as Error).message}`, { cause: e });
    }
    if (node) out.push({ time, node });
  }
  return out;
}

/**
 * Encodes nodes at several instants (a notification with history, a Send) in a format that
 * carries time: SenML JSON/CBOR (LwM2M-TS-Core 1.1 §7.4.4) or LwM2M JSON (TS 1.0 §6.4.4).
 * Other formats cannot (NOT_ACCEPTABLE); a single untimed node falls back to `encode`.
 */
export function encodeTimestamped(
  nodes: readonly TimestampedNode[],
  format: number,
  path: Lwm2mPath,
  model: Lwm2mModel,
): Buffer {
  const only = nodes[0];
  if (nodes.length === 1 && only && only.time === undefined) {
    return encode(only.node, format, path, model);
  }
  const entries = guard(
    'UNEXPECTED_NODE',
    () => `${path}`,
    () =>
      nodes.flatMap((n) =>
        flattenNode(n.node, path).map((e) => (n.time === undefined ? e : { ...e, time: n.time })),
      ),
  );
  if (format === ContentFormat.JSON || format === ContentFormat.OLD_JSON) {
    return encodeLwm2mJsonTimestamped(entries, path, model);
  }
  if (format !== ContentFormat.SENML_JSON && format !== ContentFormat.SENML_CBOR) {
    throw new CodecError('NOT_ACCEPTABLE', `${contentFormatName(format)} carries no timestamps`);
  }
  return encodeComposite(entries, format, model);
}
