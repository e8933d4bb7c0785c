/**
 * text/plain (0): one resource value as text. LwM2M-TS-Core 1.1 §7.4.1 (1.0 §6.4.1) and
 * Appendix C "Text" column. Only a single resource or one resource instance fits.
 */
import type { Lwm2mModel, ResourceModel } from '../model/object-model.js';
import type { Lwm2mNode } from '../node/lwm2m-node.js';
import { resourceInstance, singleResource } from '../node/lwm2m-node.js';
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
import { decodeUtf8 } from './byte-reader.js';
import { CodecError, guard } from './codec-error.js';
import { resourceModelAt, toModelType, valueTypeOf } from './value-converter.js';

const INTEGER = /^[-+]?\d{1,20}$/;
const FLOAT = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d{1,4})?$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function parseInteger(s: string, min: bigint, max: bigint, path: Lwm2mPath): bigint {
  if (!INTEGER.test(s)) throw new CodecError('TYPE_MISMATCH', `${path}: "${s}" is not an integer`);
  const v = BigInt(s);
  if (v < min || v > max) throw new CodecError('VALUE_OUT_OF_RANGE', `${path}: ${s} out of range`);
  return v;
}

/** Parses the text form of a value of `type` (Appendix C, "Text" column). */
export function parseTextValue(text: string, type: ValueType, path: Lwm2mPath): Lwm2mValue {
  switch (type) {
    case 'string':
    case 'corelnk':
      return { type, value: text };
    case 'integer':
      return { type, value: narrowInteger(parseInteger(text, INT64_MIN, INT64_MAX, path)) };
    case 'unsigned':
      if (text.startsWith('-')) {
        throw new CodecError('VALUE_OUT_OF_RANGE', `${path}: "${text}" is negative`);
      }
      return { type, value: narrowInteger(parseInteger(text, 0n, UINT64_MAX, path)) };
    case 'time': {
      // Appendix C: Time as text is the decimal number of seconds since the epoch.
      const s = parseInteger(text, INT64_MIN, INT64_MAX, path);
      const d = new Date(Number(s) * 1000);
      if (Number.isNaN(d.getTime())) {
        throw new CodecError('VALUE_OUT_OF_RANGE', `${path}: time ${s} is not a date`);
      }
      return { type, value: d };
    }
    case 'float': {
      if (!FLOAT.test(text))
        throw new CodecError('TYPE_MISMATCH', `${path}: "${text}" not a float`);
      const v = Number(text);
      if (!Number.isFinite(v)) throw new CodecError('VALUE_OUT_OF_RANGE', `${path}: ${text}`);
      return { type, value: v };
    }
    case 'boolean':
      // Appendix C: Boolean as text is "0" or "1".
      if (text === '0' || text === '1') return { type, value: text === '1' };
      throw new CodecError('TYPE_MISMATCH', `${path}: "${text}" is not a boolean 0 or 1`);
    case 'objlnk': {
      // Appendix C: Objlnk as text is "ObjectID:ObjectInstanceID", each 0..65535.
      const m = /^(\d{1,5}):(\d{1,5})$/.exec(text);
      const objectId = Number(m?.[1]);
      const instanceId = Number(m?.[2]);
      if (!m || objectId > 65535 || instanceId > 65535) {
        throw new CodecError('TYPE_MISMATCH', `${path}: "${text}" is not an object link`);
      }
      return { type, value: { objectId, instanceId } };
    }
    case 'opaque': {
      // LwM2M-TS-Core 1.1 §7.4.1: an opaque value in plain text is base64 (RFC 4648 §4).
      const s = text.replace(/\s+/g, '');
      if (!BASE64.test(s)) throw new CodecError('TYPE_MISMATCH', `${path}: not base64`);
      return { type, value: Buffer.from(s, 'base64') };
    }
  }
}

/** The text form of a value (Appendix C, "Text" column). */
export function formatTextValue(value: Lwm2mValue): string {
  switch (value.type) {
    case 'string':
    case 'corelnk':
      return value.value;
    case 'integer':
    case 'unsigned':
      return value.value.toString();
    case 'float':
      if (!Number.isFinite(value.value)) {
        throw new CodecError('VALUE_OUT_OF_RANGE', `float ${value.value} has no text form`);
      }
      return String(value.value);
    case 'boolean':
      return value.value ? '1' : '0';
    case 'time':
      return String(timeToSeconds(value.value));
    case 'objlnk':
      return `${value.value.objectId}:${value.value.instanceId}`;
    case 'opaque':
      return value.value.toString('base64');
  }
}

/** The model of the resource at `path`, which must be one value (a single resource or one instance). */
function leafModel(path: Lwm2mPath, model: Lwm2mModel, format: string): ResourceModel | undefined {
  const resource = resourceModelAt(model, path);
  if (path.isResourceInstance()) return resource;
  if (!path.isResource()) {
    throw new CodecError('NOT_ACCEPTABLE', `${format} holds one resource value, not ${path}`);
  }
  if (resource?.multiple) {
    throw new CodecError('NOT_ACCEPTABLE', `${format} cannot hold multiple resource ${path}`);
  }
  return resource;
}

/** Decodes a text/plain payload for the resource or resource instance at `path`. */
export function decodeText(bytes: Uint8Array, path: Lwm2mPath, model: Lwm2mModel): Lwm2mNode {
  return guard(
    'MALFORMED',
    () => `text ${path}`,
    () => {
      const type = valueTypeOf(leafModel(path, model, 'text/plain')) ?? 'string';
      const value = parseTextValue(decodeUtf8(bytes, path), type, path);
      const id = path.segments[path.segments.length - 1]!;
      return path.isResource() ? singleResource(id, value) : resourceInstance(id, value);
    },
  );
}

/** Encodes a single resource or resource instance as text/plain. */
export function encodeText(node: Lwm2mNode, path: Lwm2mPath, model: Lwm2mModel): Buffer {
  return guard(
    'TYPE_MISMATCH',
    () => `text ${path}`,
    () => {
      if (node.kind !== 'single-resource' && node.kind !== 'resource-instance') {
        throw new CodecError('NOT_ACCEPTABLE', `text/plain cannot hold a ${node.kind}`);
      }
      return Buffer.from(formatTextValue(toModelType(model, path, node.value)), 'utf8');
    },
  );
}
