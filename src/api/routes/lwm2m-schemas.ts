/** JSON schemas of the live device operations (they feed the OpenAPI document). */

import { COMMAND_ERRORS } from '../../hub/commands/errors.js';
import { FORMAT_NAMES, VALUE_TYPES } from '../../hub/commands/json.js';
import { MAX_TIMEOUT_MS } from '../../hub/commands/operations.js';
import { ATTRIBUTES } from '../../lwm2m/server/requests/write-attributes.js';
import { API_ERRORS } from '../errors.js';

/** The error body of the device-operation routes (the API's error body plus `coapCode`). */
export const deviceOperationErrorSchema = {
  type: 'object',
  required: ['statusCode', 'code', 'error', 'message'],
  properties: {
    statusCode: { type: 'integer' },
    code: {
      type: 'string',
      enum: [...new Set([...Object.keys(API_ERRORS), ...Object.keys(COMMAND_ERRORS)])],
    },
    error: { type: 'string' },
    message: { type: 'string' },
    coapCode: {
      type: 'string',
      pattern: '^[2-5]\\.\\d\\d$',
      description: 'the CoAP response code the device answered with',
    },
    field: { type: 'string' },
  },
} as const;

const VALUE = {
  description:
    'the value: a number, string or boolean; opaque in base64, time in seconds since the epoch, integers past 2^53 as decimal strings, object links as {"objectId","instanceId"}',
} as const;

const VALUE_TYPE = { type: 'string', enum: VALUE_TYPES } as const;

export const resourceSchema = {
  type: 'object',
  description: 'A resource or resource instance; a multiple resource has `values` for `value`.',
  required: ['path', 'type'],
  properties: {
    path: { type: 'string', examples: ['/3303/0/5700'] },
    value: VALUE,
    values: {
      type: 'object',
      description: 'resource instance id → value',
      additionalProperties: VALUE,
    },
    type: VALUE_TYPE,
    unit: { type: 'string', description: 'from the object registry' },
    name: { type: 'string', description: 'from the object registry' },
  },
} as const;

export const instanceSchema = {
  type: 'object',
  required: ['path', 'resources'],
  properties: {
    path: { type: 'string', examples: ['/3/0'] },
    name: { type: 'string', description: "the object's name" },
    resources: { type: 'object', additionalProperties: resourceSchema },
  },
} as const;

export const objectSchema = {
  type: 'object',
  required: ['path', 'instances'],
  properties: {
    path: { type: 'string', examples: ['/3'] },
    name: { type: 'string' },
    instances: { type: 'object', additionalProperties: instanceSchema },
  },
} as const;

/** The node schema at each path level (1 object ... 4 resource instance). */
export const NODE_SCHEMAS = [
  undefined,
  objectSchema,
  instanceSchema,
  resourceSchema,
  resourceSchema,
];

const observation = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', description: 'the observation (its CoAP token, hex)' } },
} as const;

/** Observe answers the current value in the read shape, with the observation. */
export function observedSchema(level: number) {
  const node = NODE_SCHEMAS[level]!;
  return {
    ...node,
    required: ['path'],
    properties: { ...node.properties, observation },
  };
}

export const observedCompositeSchema = {
  type: 'object',
  required: ['nodes'],
  properties: { ...compositeNodes(), observation },
} as const;

export const observationsSchema = {
  type: 'object',
  required: ['observations'],
  properties: {
    observations: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'paths', 'composite'],
        properties: {
          id: { type: 'string' },
          paths: { type: 'array', items: { type: 'string' } },
          composite: { type: 'boolean' },
        },
      },
    },
  },
} as const;

export const discoverSchema = {
  type: 'object',
  required: ['path', 'links'],
  properties: {
    path: { type: 'string' },
    links: {
      type: 'array',
      items: {
        type: 'object',
        required: ['path', 'attributes'],
        properties: {
          path: { type: 'string' },
          attributes: {
            type: 'object',
            description: 'link attributes (`dim`, `ver`, `pmin`...); true for one without value',
            additionalProperties: { type: ['string', 'boolean'] },
          },
        },
      },
    },
  },
} as const;

function compositeNodes() {
  return {
    nodes: {
      type: 'object',
      description: 'requested path → node (null where the device had nothing)',
      additionalProperties: {
        anyOf: [{ type: 'null' }, objectSchema, instanceSchema, resourceSchema],
      },
    },
  };
}

export const compositeReadSchema = {
  type: 'object',
  required: ['nodes'],
  properties: compositeNodes(),
} as const;

export const compositeWriteSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['values'],
  properties: {
    values: {
      type: 'object',
      description:
        'resource or resource-instance path → value (`{"<ri>": value}` for a multiple resource)',
      minProperties: 1,
      additionalProperties: true,
    },
  },
} as const;

/** PUT and PATCH bodies: one of `value`, `values`, `resources` by the path's level. */
export const writeSchema = {
  type: 'object',
  additionalProperties: false,
  description:
    '`{"value": v}` for a resource or resource instance, `{"values": {"<ri>": v}}` for a multiple resource, `{"resources": {"<id>": v}}` for an instance',
  properties: {
    value: VALUE,
    values: { type: 'object', additionalProperties: true },
    resources: { type: 'object', additionalProperties: true },
    type: { ...VALUE_TYPE, description: 'only for a resource the object registry does not know' },
  },
} as const;

export const createSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    id: {
      type: ['integer', 'null'],
      minimum: 0,
      maximum: 65534,
      description: 'the new instance id; omitted lets the device choose (sent in TLV)',
    },
    resources: {
      type: 'object',
      additionalProperties: true,
      description: 'resource id → value, as in an instance write',
    },
  },
} as const;

export const createdSchema = {
  type: 'object',
  properties: { path: { type: 'string', description: 'the new instance, e.g. /3303/1' } },
} as const;

export const executeBodySchema = {
  content: {
    'text/plain': {
      schema: {
        type: 'string',
        maxLength: 4096,
        description: "Execute arguments (LwM2M-TS-Core 1.1 §5.4.5), e.g. 0='v',1",
      },
    },
    'application/json': {
      schema: {
        type: 'object',
        additionalProperties: false,
        properties: { arguments: { type: 'string', maxLength: 4096 } },
      },
    },
  },
} as const;

export const attributesBodySchema = {
  type: 'object',
  additionalProperties: false,
  description: 'Notification attributes (LwM2M-TS-Core 1.2 §5.1.2); null removes one',
  properties: Object.fromEntries(
    ATTRIBUTES.map((a) => [a.name, { type: ['number', 'null'], description: `since ${a.since}` }]),
  ),
} as const;

const format = {
  type: 'string',
  description: `force the wire content format: ${Object.keys(FORMAT_NAMES).join(', ')}, or its number`,
} as const;

const timeout = {
  type: 'integer',
  minimum: 1,
  maximum: MAX_TIMEOUT_MS,
  description:
    'longest wait for the device in ms, the wake-up of a sleeping (queue-mode) device included; 504 after it (default 30000)',
} as const;

export function operationQuery(extra: Record<string, unknown> = {}) {
  return {
    type: 'object',
    additionalProperties: false,
    properties: { format, timeout, ...extra },
  };
}

export const attributesQuery = Object.fromEntries(
  ATTRIBUTES.map((a) => [
    a.name,
    {
      type: 'string',
      pattern: '^(-?\\d+(\\.\\d+)?)?$',
      description: `${a.name} (since LwM2M ${a.since}); empty removes it`,
    },
  ]),
);

const idSegment = (description: string) =>
  ({ type: 'integer', minimum: 0, maximum: 65535, description }) as const;

export const SEGMENTS = [
  ['object', idSegment('object id')],
  ['instance', idSegment('object instance id')],
  ['resource', idSegment('resource id')],
  ['resourceInstance', idSegment('resource instance id')],
] as const;

export function levelParams(level: number) {
  const properties: Record<string, unknown> = { id: { type: 'string', maxLength: 128 } };
  for (const [name, schema] of SEGMENTS.slice(0, level)) properties[name] = schema;
  return { type: 'object', required: Object.keys(properties), properties };
}

export const errorResponses = Object.fromEntries(
  [400, 401, 403, 404, 405, 406, 415, 502, 503, 504].map((c) => [c, deviceOperationErrorSchema]),
);
