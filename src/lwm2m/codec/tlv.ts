/**
 * application/vnd.oma.lwm2m+tlv (11542, and 1542 before registration).
 * LwM2M-TS-Core 1.1 §7.4.3 (1.0 §6.4.3): each TLV is a type byte, an 8 or 16-bit identifier,
 * an optional 8/16/24-bit length, and the value; object instances and multiple resources nest.
 */
import type { Lwm2mModel } from '../model/object-model.js';
import {
  type Lwm2mNode,
  type Lwm2mObjectInstance,
  type Lwm2mResource,
  type Lwm2mResourceInstance,
  multipleResource,
  object,
  objectInstance,
  resourceInstance,
  singleResource,
} from '../node/lwm2m-node.js';
import type { Lwm2mPath } from '../node/lwm2m-path.js';
import {
  INT64_MAX,
  INT64_MIN,
  type Lwm2mValue,
  narrowInteger,
  timeToSeconds,
  UINT64_MAX,
  type ValueType,
} from '../node/lwm2m-value.js';
import { ByteReader, decodeUtf8 } from './byte-reader.js';
import { CodecError, guard } from './codec-error.js';
import { modelType, resourceModelAt, toModelType } from './value-converter.js';

/** LwM2M-TS-Core 1.1 §7.4.3 Table 7.4.3-1, bits 7-6 of the type byte. */
export const TlvType = {
  OBJECT_INSTANCE: 0b00,
  RESOURCE_INSTANCE: 0b01,
  MULTIPLE_RESOURCE: 0b10,
  RESOURCE_VALUE: 0b11,
} as const;
export type TlvTypeId = (typeof TlvType)[keyof typeof TlvType];

/** One decoded TLV: leaves keep their raw value, containers their children. */
export interface Tlv {
  readonly type: TlvTypeId;
  readonly id: number;
  readonly value: Uint8Array;
  readonly children?: readonly Tlv[];
}

// LwM2M-TS-Core 1.1 §7.4.3: the length field is at most 24 bits.
const MAX_LENGTH = 0xffffff;

/**
 * Reads a sequence of TLVs. Containers are read recursively, but only where the format allows
 * nesting (an object instance holds resources, a multiple resource holds resource instances),
 * so depth is bounded at 3 whatever the input.
 */
export function readTlvs(reader: ByteReader, parent?: TlvTypeId): Tlv[] {
  const out: Tlv[] = [];
  while (!reader.done) {
    const at = reader.offset;
    const t = reader.u8('TLV type');
    const type = (t >> 6) as TlvTypeId;
    // LwM2M-TS-Core 1.1 §7.4.3: bit 5 selects a 16-bit identifier, bits 4-3 the length size,
    // bits 2-0 hold the length itself when bits 4-3 are 00.
    const id = reader.uint(t & 0x20 ? 2 : 1, 'TLV identifier');
    const lengthType = (t >> 3) & 0b11;
    const length = lengthType === 0 ? t & 0b111 : reader.uint(lengthType, 'TLV length');
    const body = reader.sub(length, `TLV at offset ${at}`);
    if (parent === TlvType.OBJECT_INSTANCE && type !== 0b11 && type !== 0b10) {
      throw new CodecError('MALFORMED', `TLV at offset ${at}: an object instance holds resources`);
    }
    if (parent === TlvType.MULTIPLE_RESOURCE && type !== TlvType.RESOURCE_INSTANCE) {
      throw new CodecError(
        type === TlvType.OBJECT_INSTANCE || type === TlvType.MULTIPLE_RESOURCE
          ? 'NESTING_TOO_DEEP'
          : 'MALFORMED',
        `TLV at offset ${at}: a multiple resource holds only resource instances`,
      );
    }
    if (type === TlvType.OBJECT_INSTANCE || type === TlvType.MULTIPLE_RESOURCE) {
      const value = reader.buffer.subarray(body.offset, body.offset + body.remaining);
      out.push({ type, id, value, children: readTlvs(body, type) });
    } else {
      out.push({ type, id, value: body.bytes(body.remaining) });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Values. LwM2M-TS-Core 1.1 Appendix C, "TLV" column.

function readSigned(bytes: Uint8Array, path: Lwm2mPath): bigint {
  // LwM2M-TS-Core 1.1 Appendix C: Integer is 1, 2, 4 or 8 bytes, two's complement, big-endian.
  if (![1, 2, 4, 8].includes(bytes.length)) {
    throw new CodecError('MALFORMED', `${path}: an integer of ${bytes.length} bytes`);
  }
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return BigInt.asIntN(bytes.length * 8, v);
}

function readUnsigned(bytes: Uint8Array, path: Lwm2mPath): bigint {
  // LwM2M-TS-Core 1.1 Appendix C: Unsigned Integer is 1, 2, 4 or 8 bytes, big-endian.
  if (![1, 2, 4, 8].includes(bytes.length)) {
    throw new CodecError('MALFORMED', `${path}: an unsigned integer of ${bytes.length} bytes`);
  }
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

/** Decodes a TLV value as `type` (opaque when the model does not know the resource). */
export function decodeTlvValue(bytes: Uint8Array, type: ValueType, path: Lwm2mPath): Lwm2mValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (type) {
    case 'string':
      return { type, value: decodeUtf8(bytes, path) };
    case 'corelnk':
      return { type, value: decodeUtf8(bytes, path) };
    case 'integer':
      return { type, value: narrowInteger(readSigned(bytes, path)) };
    case 'unsigned':
      return { type, value: narrowInteger(readUnsigned(bytes, path)) };
    case 'time': {
      // LwM2M-TS-Core 1.1 Appendix C: Time is a signed integer of seconds since the epoch.
      const s = readSigned(bytes, path);
      const d = new Date(Number(s) * 1000);
      if (Number.isNaN(d.getTime())) {
        throw new CodecError('VALUE_OUT_OF_RANGE', `${path}: time ${s} is not a date`);
      }
      return { type, value: d };
    }
    case 'float':
      // LwM2M-TS-Core 1.1 Appendix C: Float is 4 or 8 bytes, IEEE 754 big-endian.
      if (bytes.length === 4) return { type, value: view.getFloat32(0) };
      if (bytes.length === 8) return { type, value: view.getFloat64(0) };
      throw new CodecError('MALFORMED', `${path}: a float of ${bytes.length} bytes`);
    case 'boolean':
      // LwM2M-TS-Core 1.1 Appendix C: Boolean is one byte, 0 or 1.
      if (bytes.length !== 1 || bytes[0]! > 1) {
        throw new CodecError('MALFORMED', `${path}: a boolean is one byte 0 or 1`);
      }
      return { type, value: bytes[0] === 1 };
    case 'objlnk':
      // LwM2M-TS-Core 1.1 Appendix C: Objlnk is two 16-bit unsigned integers.
      if (bytes.length !== 4) {
        throw new CodecError('MALFORMED', `${path}: an object link is 4 bytes`);
      }
      return { type, value: { objectId: view.getUint16(0), instanceId: view.getUint16(2) } };
    case 'opaque':
      return { type, value: Buffer.from(bytes) };
  }
}

function writeInteger(v: bigint, signed: boolean): Buffer {
  // LwM2M-TS-Core 1.1 Appendix C: the shortest of 1, 2, 4 or 8 bytes that holds the value.
  for (const n of [1, 2, 4, 8]) {
    const bits = BigInt(n * 8);
    const fits = signed
      ? v >= -(1n << (bits - 1n)) && v < 1n << (bits - 1n)
      : v >= 0n && v < 1n << bits;
    if (fits) {
      const out = Buffer.alloc(n);
      let x = BigInt.asUintN(n * 8, v);
      for (let i = n - 1; i >= 0; i--) {
        out[i] = Number(x & 0xffn);
        x >>= 8n;
      }
      return out;
    }
  }
  throw new CodecError('VALUE_OUT_OF_RANGE', `integer ${v} does not fit in 8 bytes`);
}

/** Encodes one value as the bytes of a TLV value. */
export function encodeTlvValue(value: Lwm2mValue): Buffer {
  switch (value.type) {
    case 'string':
    case 'corelnk':
      return Buffer.from(value.value, 'utf8');
    case 'integer': {
      const v = BigInt(value.value);
      if (v < INT64_MIN || v > INT64_MAX) {
        throw new CodecError('VALUE_OUT_OF_RANGE', `integer ${v} is outside 64 bits`);
      }
      return writeInteger(v, true);
    }
    case 'unsigned': {
      const v = BigInt(value.value);
      if (v < 0n || v > UINT64_MAX) {
        throw new CodecError('VALUE_OUT_OF_RANGE', `unsigned ${v} is outside 64 bits`);
      }
      return writeInteger(v, false);
    }
    case 'time':
      return writeInteger(BigInt(timeToSeconds(value.value)), true);
    case 'float': {
      // 4 bytes when single precision holds the value exactly, else 8.
      if (Number.isNaN(value.value) || Math.fround(value.value) === value.value) {
        const out = Buffer.alloc(4);
        out.writeFloatBE(value.value);
        return out;
      }
      const out = Buffer.alloc(8);
      out.writeDoubleBE(value.value);
      return out;
    }
    case 'boolean':
      return Buffer.from([value.value ? 1 : 0]);
    case 'objlnk': {
      const out = Buffer.alloc(4);
      out.writeUInt16BE(value.value.objectId, 0);
      out.writeUInt16BE(value.value.instanceId, 2);
      return out;
    }
    case 'opaque':
      return Buffer.from(value.value);
  }
}

/** Writes one TLV header + value. */
export function writeTlv(type: TlvTypeId, id: number, value: Uint8Array): Buffer {
  const length = value.length;
  if (length > MAX_LENGTH) {
    throw new CodecError('TOO_LARGE', `TLV value of ${length} bytes exceeds 24-bit length`);
  }
  const wideId = id > 0xff;
  const lengthType = length < 8 ? 0 : length <= 0xff ? 1 : length <= 0xffff ? 2 : 3;
  const header = Buffer.alloc(1 + (wideId ? 2 : 1) + lengthType);
  header[0] = (type << 6) | (wideId ? 0x20 : 0) | (lengthType << 3) | (lengthType ? 0 : length);
  let o = 1;
  if (wideId) header.writeUInt16BE(id, o);
  else header[o] = id;
  o += wideId ? 2 : 1;
  if (lengthType) header.writeUIntBE(length, o, lengthType);
  return Buffer.concat([header, value]);
}

// ---------------------------------------------------------------------------------------------
// Nodes.

function leafType(model: Lwm2mModel, path: Lwm2mPath): ValueType {
  // Without a model the bytes stay opaque: TLV does not say its values' types.
  return modelType(model, path) ?? 'opaque';
}

function checkUnique(tlvs: readonly Tlv[], what: string, path: Lwm2mPath): void {
  const seen = new Set<number>();
  for (const t of tlvs) {
    if (seen.has(t.id)) {
      throw new CodecError('DUPLICATE_PATH', `${path}: ${what} ${t.id} appears twice`);
    }
    seen.add(t.id);
  }
}

function toResourceInstances(
  tlvs: readonly Tlv[],
  path: Lwm2mPath,
  model: Lwm2mModel,
): Lwm2mResourceInstance[] {
  checkUnique(tlvs, 'resource instance', path);
  return tlvs.map((t) => {
    if (t.type !== TlvType.RESOURCE_INSTANCE) {
      throw new CodecError('UNEXPECTED_NODE', `${path}: expected resource instances`);
    }
    const p = path.append(t.id);
    return resourceInstance(t.id, decodeTlvValue(t.value, leafType(model, p), p));
  });
}

function toResource(t: Tlv, parent: Lwm2mPath, model: Lwm2mModel): Lwm2mResource {
  const path = parent.append(t.id);
  const type = leafType(model, path);
  if (t.type === TlvType.RESOURCE_VALUE) {
    if (resourceModelAt(model, path)?.multiple) {
      throw new CodecError('UNEXPECTED_NODE', `${path} is a multiple resource in the model`);
    }
    return singleResource(t.id, decodeTlvValue(t.value, type, path));
  }
  if (t.type === TlvType.MULTIPLE_RESOURCE) {
    const rm = resourceModelAt(model, path);
    if (rm && !rm.multiple) {
      throw new CodecError('UNEXPECTED_NODE', `${path} is a single resource in the model`);
    }
    return multipleResource(t.id, type, toResourceInstances(t.children ?? [], path, model));
  }
  throw new CodecError('UNEXPECTED_NODE', `${path}: expected a resource TLV`);
}

function toInstance(
  id: number,
  tlvs: readonly Tlv[],
  path: Lwm2mPath,
  model: Lwm2mModel,
): Lwm2mObjectInstance {
  checkUnique(tlvs, 'resource', path);
  return objectInstance(
    id,
    tlvs.map((t) => toResource(t, path, model)),
  );
}

function isResourceTlv(t: Tlv): boolean {
  return t.type === TlvType.RESOURCE_VALUE || t.type === TlvType.MULTIPLE_RESOURCE;
}

/**
 * Decodes a TLV payload into the node at `path`: an object for `/o`, an object instance for
 * `/o/i`, a resource for `/o/i/r`, a resource instance for `/o/i/r/ri`. Throws only CodecError.
 */
export function decodeTlv(bytes: Uint8Array, path: Lwm2mPath, model: Lwm2mModel): Lwm2mNode {
  return guard(
    'MALFORMED',
    () => `TLV ${path}`,
    () => {
      const tlvs = readTlvs(new ByteReader(bytes));
      const [o, i, r, ri] = path.segments;
      if (o === undefined) throw new CodecError('INVALID_PATH', 'TLV cannot hold the root');
      if (path.isObject()) {
        if (tlvs.every((t) => t.type === TlvType.OBJECT_INSTANCE)) {
          checkUnique(tlvs, 'object instance', path);
          return object(
            o,
            tlvs.map((t) => toInstance(t.id, t.children ?? [], path.append(t.id), model)),
          );
        }
        // LwM2M-TS-Core 1.0 §6.4.3.1: a single-instance object's resources may come without
        // their object instance TLV; they are instance 0 (also for an object we do not know).
        // For a multiple-instance object that is a Create without id: see decodeCreate.
        if (tlvs.every(isResourceTlv) && model.getObject(o)?.multiple !== true) {
          return object(o, [toInstance(0, tlvs, path.append(0), model)]);
        }
        throw new CodecError('UNEXPECTED_NODE', `${path}: expected object instance TLVs`);
      }
      if (path.isObjectInstance()) {
        // LwM2M-TS-Core 1.1 §7.4.3.1 and §7.4.3.2: the resources alone, or wrapped in one object
        // instance TLV with the instance's id.
        const only = tlvs[0];
        if (tlvs.length === 1 && only?.type === TlvType.OBJECT_INSTANCE) {
          if (only.id !== i) {
            throw new CodecError('INVALID_PATH', `${path}: payload is object instance ${only.id}`);
          }
          return toInstance(i!, only.children ?? [], path, model);
        }
        if (!tlvs.every(isResourceTlv)) {
          throw new CodecError('UNEXPECTED_NODE', `${path}: expected resource TLVs`);
        }
        return toInstance(i!, tlvs, path, model);
      }
      if (path.isResource()) {
        let tlvsAt: readonly Tlv[] = tlvs;
        const wrapper = tlvs[0];
        // Some clients wrap a resource in its object instance TLV: accept it when the id matches.
        if (tlvs.length === 1 && wrapper?.type === TlvType.OBJECT_INSTANCE) {
          if (wrapper.id !== i) {
            throw new CodecError(
              'INVALID_PATH',
              `${path}: payload is object instance ${wrapper.id}`,
            );
          }
          tlvsAt = wrapper.children ?? [];
        }
        const only = tlvsAt[0];
        if (tlvsAt.length === 1 && only && isResourceTlv(only)) {
          if (only.id !== r) {
            throw new CodecError('INVALID_PATH', `${path}: payload is resource ${only.id}`);
          }
          return toResource(only, path.parent(), model);
        }
        // Some clients send a multiple resource's instances without their resource TLV; an empty
        // payload is an empty multiple resource. Neither fits a resource the model calls single.
        const rm = resourceModelAt(model, path);
        if (rm?.multiple !== false && tlvsAt.every((t) => t.type === TlvType.RESOURCE_INSTANCE)) {
          if (tlvsAt.length === 0 && rm === undefined) {
            throw new CodecError(
              'UNEXPECTED_NODE',
              `${path}: empty payload for an unknown resource`,
            );
          }
          return multipleResource(
            r!,
            leafType(model, path),
            toResourceInstances(tlvsAt, path, model),
          );
        }
        throw new CodecError('UNEXPECTED_NODE', `${path}: expected one resource TLV`);
      }
      const only = tlvs[0];
      if (tlvs.length !== 1 || !only || only.type !== TlvType.RESOURCE_INSTANCE) {
        throw new CodecError('UNEXPECTED_NODE', `${path}: expected one resource instance TLV`);
      }
      if (only.id !== ri) {
        throw new CodecError('INVALID_PATH', `${path}: payload is resource instance ${only.id}`);
      }
      return resourceInstance(ri, decodeTlvValue(only.value, leafType(model, path), path));
    },
  );
}

function encodeResource(res: Lwm2mResource, path: Lwm2mPath, model: Lwm2mModel): Buffer {
  if (res.kind === 'single-resource') {
    return writeTlv(
      TlvType.RESOURCE_VALUE,
      res.id,
      encodeTlvValue(toModelType(model, path, res.value)),
    );
  }
  const inner = [...res.instances.values()].map((ri) =>
    writeTlv(
      TlvType.RESOURCE_INSTANCE,
      ri.id,
      encodeTlvValue(toModelType(model, path.append(ri.id), ri.value)),
    ),
  );
  return writeTlv(TlvType.MULTIPLE_RESOURCE, res.id, Buffer.concat(inner));
}

function encodeInstanceBody(inst: Lwm2mObjectInstance, path: Lwm2mPath, model: Lwm2mModel): Buffer {
  return Buffer.concat(
    [...inst.resources.values()].map((r) => encodeResource(r, path.append(r.id), model)),
  );
}

/**
 * Encodes `node`, found at `path`, as TLV. An object instance at its own path is written as
 * its resources alone (LwM2M-TS-Core 1.0 §6.4.3.1); at an object path (Create) it is wrapped
 * in its object instance TLV. Values are converted to the model's types where lossless.
 */
export function encodeTlv(node: Lwm2mNode, at: Lwm2mPath, model: Lwm2mModel): Buffer {
  return guard(
    'TYPE_MISMATCH',
    () => `TLV ${at}`,
    () => {
      // A resource given at its instance's path (or a resource instance at its resource's) is
      // written alone, typed by its own path.
      const leafAtParent =
        node.kind === 'single-resource' || node.kind === 'multiple-resource'
          ? at.isObjectInstance()
          : node.kind === 'resource-instance' && at.isResource();
      const path = leafAtParent ? at.append(node.id) : at;
      switch (node.kind) {
        case 'object':
          return Buffer.concat(
            [...node.instances.values()].map((i) =>
              writeTlv(
                TlvType.OBJECT_INSTANCE,
                i.id,
                encodeInstanceBody(i, path.append(i.id), model),
              ),
            ),
          );
        case 'object-instance':
          if (path.isObject()) {
            return writeTlv(
              TlvType.OBJECT_INSTANCE,
              node.id,
              encodeInstanceBody(node, path.append(node.id), model),
            );
          }
          return encodeInstanceBody(node, path, model);
        case 'single-resource':
        case 'multiple-resource':
          return encodeResource(node, path, model);
        case 'resource-instance':
          return writeTlv(
            TlvType.RESOURCE_INSTANCE,
            node.id,
            encodeTlvValue(toModelType(model, path, node.value)),
          );
      }
    },
  );
}
