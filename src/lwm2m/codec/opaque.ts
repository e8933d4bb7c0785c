/**
 * application/octet-stream (42): the raw bytes of one Opaque resource or resource instance.
 * LwM2M-TS-Core 1.1 §7.4.2 (1.0 §6.4.2): only for resources of type Opaque.
 */
import type { Lwm2mModel } from '../model/object-model.js';
import type { Lwm2mNode } from '../node/lwm2m-node.js';
import { resourceInstance, singleResource } from '../node/lwm2m-node.js';
import type { Lwm2mPath } from '../node/lwm2m-path.js';
import { CodecError, guard } from './codec-error.js';
import { modelType, resourceModelAt } from './value-converter.js';

function checkOpaquePath(path: Lwm2mPath, model: Lwm2mModel): void {
  if (!path.isResource() && !path.isResourceInstance()) {
    throw new CodecError('NOT_ACCEPTABLE', `octet-stream holds one opaque value, not ${path}`);
  }
  if (path.isResource() && resourceModelAt(model, path)?.multiple) {
    throw new CodecError('NOT_ACCEPTABLE', `octet-stream cannot hold multiple resource ${path}`);
  }
  const type = modelType(model, path);
  // LwM2M-TS-Core 1.1 §7.4.2: octet-stream is for Opaque resources only.
  if (type !== undefined && type !== 'opaque') {
    throw new CodecError('NOT_ACCEPTABLE', `${path} is ${type}, octet-stream is for opaque`);
  }
}

export function decodeOpaque(bytes: Uint8Array, path: Lwm2mPath, model: Lwm2mModel): Lwm2mNode {
  return guard(
    'MALFORMED',
    () => `opaque ${path}`,
    () => {
      checkOpaquePath(path, model);
      const value = { type: 'opaque' as const, value: Buffer.from(bytes) };
      const id = path.segments[path.segments.length - 1]!;
      return path.isResource() ? singleResource(id, value) : resourceInstance(id, value);
    },
  );
}

export function encodeOpaque(node: Lwm2mNode, path: Lwm2mPath, model: Lwm2mModel): Buffer {
  return guard(
    'TYPE_MISMATCH',
    () => `opaque ${path}`,
    () => {
      checkOpaquePath(path, model);
      if (node.kind !== 'single-resource' && node.kind !== 'resource-instance') {
        throw new CodecError('NOT_ACCEPTABLE', `octet-stream cannot hold a ${node.kind}`);
      }
      if (node.value.type !== 'opaque') {
        throw new CodecError('NOT_ACCEPTABLE', `octet-stream cannot hold a ${node.value.type}`);
      }
      return Buffer.from(node.value.value);
    },
  );
}
