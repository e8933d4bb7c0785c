/**
 * application/cbor (60): one resource or resource-instance value as a single CBOR data item.
 * LwM2M-TS-Core 1.1 §7.4.6 (CBOR): Integer and Unsigned Integer as CBOR integers, Float as a
 * float, Boolean, String and Corelnk as text, Opaque as a byte string, Time as tag 1 with an
 * integer, Objlnk as the text "oid:iid".
 */
import type { Lwm2mModel } from '../model/object-model.js';
import type { Lwm2mNode } from '../node/lwm2m-node.js';
import { resourceInstance, singleResource } from '../node/lwm2m-node.js';
import type { Lwm2mPath } from '../node/lwm2m-path.js';
import { readCbor, writeCbor } from './cbor.js';
import { CodecError, guard } from './codec-error.js';
import { cborToValue, valueToCbor } from './lwm2m-cbor.js';
import { resourceModelAt, toModelType } from './value-converter.js';

function checkLeafPath(path: Lwm2mPath, model: Lwm2mModel): void {
  if (path.isResourceInstance()) return;
  // LwM2M-TS-Core 1.1 §7.4.6: the CBOR format carries a single resource value only.
  if (!path.isResource() || resourceModelAt(model, path)?.multiple) {
    throw new CodecError('NOT_ACCEPTABLE', `application/cbor holds one value, not ${path}`);
  }
}

export function decodePlainCbor(bytes: Uint8Array, path: Lwm2mPath, model: Lwm2mModel): Lwm2mNode {
  return guard(
    'MALFORMED',
    () => `CBOR ${path}`,
    () => {
      checkLeafPath(path, model);
      // A value is at most a tag around an array (a decimal fraction): two levels.
      const value = cborToValue(readCbor(bytes, { maxDepth: 2, wrapFloats: true }), path, model);
      const id = path.segments[path.segments.length - 1]!;
      return path.isResource() ? singleResource(id, value) : resourceInstance(id, value);
    },
  );
}

export function encodePlainCbor(node: Lwm2mNode, path: Lwm2mPath, model: Lwm2mModel): Buffer {
  return guard(
    'TYPE_MISMATCH',
    () => `CBOR ${path}`,
    () => {
      checkLeafPath(path, model);
      if (node.kind !== 'single-resource' && node.kind !== 'resource-instance') {
        throw new CodecError('NOT_ACCEPTABLE', `application/cbor cannot hold a ${node.kind}`);
      }
      return writeCbor(valueToCbor(toModelType(model, path, node.value)));
    },
  );
}
