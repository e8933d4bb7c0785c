/**
 * What the object model allows: operations on a resource (LwM2M-TS-Core 1.1 §6.3, answered with
 * 4.05 Method Not Allowed when the model forbids it) and the range a value must lie in (the
 * DDF's RangeEnumeration).
 */
import type { Lwm2mValue } from '../node/lwm2m-value.js';
import type { ResourceModel } from './object-model.js';

export type ResourceOperation = 'read' | 'write' | 'execute';

/** LwM2M-TS-Core 1.1 Appendix D.1: Operations R, W, RW, E (empty: none). */
export function allows(resource: ResourceModel, operation: ResourceOperation): boolean {
  switch (operation) {
    case 'read':
      return resource.operations === 'R' || resource.operations === 'RW';
    case 'write':
      return resource.operations === 'W' || resource.operations === 'RW';
    case 'execute':
      return resource.operations === 'E';
  }
}

/**
 * True when `value` lies in the resource's RangeEnumeration: numbers between min and max,
 * strings and opaque by their byte length when the range counts bytes (`0..255 bytes`), and
 * enumerations by their text form. A range we cannot read (prose) allows everything.
 */
export function inRange(resource: ResourceModel, value: Lwm2mValue): boolean {
  const range = resource.range;
  if (!range) return true;
  if (range.enumeration) {
    const text =
      value.type === 'boolean'
        ? value.value
          ? '1'
          : '0'
        : value.type === 'string' || value.type === 'integer' || value.type === 'unsigned'
          ? String(value.value)
          : value.type === 'float'
            ? String(value.value)
            : undefined;
    return text === undefined || range.enumeration.includes(text);
  }
  if (range.min === undefined || range.max === undefined) return true;
  let measure: number | bigint;
  if (value.type === 'string' || value.type === 'corelnk') {
    measure = Buffer.byteLength(value.value, 'utf8');
  } else if (value.type === 'opaque') {
    measure = value.value.length;
  } else if (
    range.unit !== 'bytes' &&
    (value.type === 'integer' || value.type === 'unsigned' || value.type === 'float')
  ) {
    measure = value.value;
  } else {
    return true;
  }
  return measure >= range.min && measure <= range.max;
}
