// Shared fixtures of the codec tests: hex helpers, the OMA model, and the test objects 65 and
// 66 of LwM2M-TS-Core 1.0 §6.4.3.3 (Figure 28: an object instance holding object links).

import type { ObjectModel, ResourceModel } from '../../../src/lwm2m/model/object-model.js';
import { StaticModel } from '../../../src/lwm2m/model/object-model.js';
import { omaRegistry } from '../../../src/lwm2m/model/object-registry.js';

/** Bytes from hex text; whitespace is ignored and `|` starts a comment to the end of the line. */
export function hex(text: string): Buffer {
  const digits = text.replace(/\|[^\n]*/g, '').replace(/\s/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(digits)) throw new Error(`bad hex: ${digits}`);
  return Buffer.from(digits, 'hex');
}

export const oma = omaRegistry().modelFor();

function res(id: number, type: ResourceModel['type'], multiple = false): ResourceModel {
  return {
    id,
    name: `res${id}`,
    operations: 'R',
    multiple,
    mandatory: false,
    type,
    description: '',
  };
}

function obj(id: number, resources: ResourceModel[]): ObjectModel {
  return {
    id,
    name: `object link tests ${id}`,
    description: '',
    urn: '',
    version: '1.0',
    lwm2mVersion: '1.0',
    multiple: true,
    mandatory: false,
    resources: new Map(resources.map((r) => [r.id, r])),
  };
}

/** Objects 65 and 66 of LwM2M-TS-Core 1.0 §6.4.3.3, with the OMA objects under them. */
export const linkModel = {
  getObject: (id: number) => extra.getObject(id) ?? oma.getObject(id),
  getResource: (o: number, r: number) => extra.getResource(o, r) ?? oma.getResource(o, r),
};
const extra = new StaticModel([
  obj(65, [res(0, 'objlnk', true), res(1, 'string'), res(2, 'integer')]),
  obj(66, [res(0, 'string'), res(1, 'string'), res(2, 'objlnk')]),
]);
