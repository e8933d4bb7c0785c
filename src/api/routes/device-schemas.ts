/** JSON schemas of devices as the API shows and takes them (they feed the OpenAPI document). */

const idSchema = {
  type: 'string',
  minLength: 1,
  maxLength: 128,
  pattern: '^[A-Za-z0-9][A-Za-z0-9._:@~=-]*$',
  description: 'LwM2M endpoint name or MQTT client id',
} as const;

const tagsSchema = {
  type: 'array',
  maxItems: 32,
  items: { type: 'string', minLength: 1, maxLength: 64 },
} as const;

const metadataSchema = { type: 'object', additionalProperties: true } as const;

function credentialsInput(nullable: boolean) {
  const kind = (properties: Record<string, unknown>, required: string[], description: string) => ({
    type: nullable ? ['object', 'null'] : 'object',
    additionalProperties: false,
    required,
    properties,
    description: nullable ? `${description}; null removes it` : description,
  });
  return {
    type: 'object',
    additionalProperties: false,
    description: 'Any subset of credentials, secrets in clear (they are hashed or kept as keys).',
    properties: {
      psk: kind(
        {
          identity: { type: 'string', minLength: 1, maxLength: 128 },
          key: { type: 'string', description: 'the pre-shared key, hexadecimal', maxLength: 128 },
        },
        ['identity', 'key'],
        'DTLS pre-shared key',
      ),
      rpk: kind(
        { publicKey: { type: 'string', description: 'SubjectPublicKeyInfo DER, base64' } },
        ['publicKey'],
        'DTLS raw public key (RFC 7250)',
      ),
      x509: kind(
        { certificate: { type: 'string', description: 'PEM' } },
        ['certificate'],
        'client certificate; its subject identifies the device',
      ),
      mqtt: kind(
        {
          username: { type: 'string', minLength: 1, maxLength: 256 },
          password: { type: 'string', minLength: 1, maxLength: 1024 },
        },
        ['username', 'password'],
        'MQTT user name and password (stored as an scrypt hash)',
      ),
    },
  };
}

export const newDeviceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'protocol'],
  properties: {
    id: idSchema,
    protocol: { type: 'string', enum: ['lwm2m', 'mqtt'] },
    credentials: credentialsInput(false),
    tags: tagsSchema,
    metadata: metadataSchema,
  },
} as const;

export const devicePatchSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    credentials: credentialsInput(true),
    tags: { ...tagsSchema, description: 'replaces the tags' },
    metadata: { ...metadataSchema, description: 'replaces the metadata' },
  },
} as const;

export const deviceSchema = {
  type: 'object',
  required: [
    'id',
    'protocol',
    'tags',
    'metadata',
    'credentials',
    'online',
    'createdAt',
    'updatedAt',
  ],
  properties: {
    id: { type: 'string' },
    protocol: { type: 'string', enum: ['lwm2m', 'mqtt'] },
    tags: { type: 'array', items: { type: 'string' } },
    metadata: metadataSchema,
    credentials: {
      type: 'object',
      description: 'Which credentials are set, by their public part; secrets are never returned.',
      properties: {
        mqtt: { type: 'object', properties: { username: { type: 'string' } } },
        psk: { type: 'object', properties: { identity: { type: 'string' } } },
        rpk: {
          type: 'object',
          properties: { fingerprint: { type: 'string', description: 'SHA-256 of the key, hex' } },
        },
        x509: {
          type: 'object',
          properties: {
            subject: { type: 'string' },
            notAfter: { type: 'string', format: 'date-time' },
          },
        },
      },
    },
    online: { type: 'boolean', description: 'connected to this server now' },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
  },
} as const;

export const deviceIdParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', maxLength: 128 } },
} as const;

export { type DeviceJson, deviceJson } from '../../hub/device-events.js';
