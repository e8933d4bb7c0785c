import type { FastifyPluginAsync } from 'fastify';
import {
  type BootstrapConfig,
  type BootstrapConfigStore,
  bootstrapConfigFromJson,
  bootstrapConfigToJson,
  ConfigValidationError,
} from '../../lwm2m/bootstrap/config.js';
import type { BootstrapSession } from '../../lwm2m/bootstrap/sessions.js';
import { BEARER } from '../auth.js';
import { ApiError, apiErrorSchema } from '../errors.js';

export interface BootstrapApi {
  configs: BootstrapConfigStore;
  /** Server-initiated bootstrap; undefined when the device is not registered. */
  requestBootstrap(endpoint: string): Promise<{ code: number } | undefined>;
  /** The last bootstrap session of an endpoint (its steps, reads and outcome). */
  session(endpoint: string): BootstrapSession | undefined;
}

const BASE64 = '^[A-Za-z0-9+/]*={0,2}$';
const HEX = '^([0-9a-fA-F]{2})*$';
const hex = (description: string) => ({ type: 'string', pattern: HEX, description }) as const;

/**
 * The OSCORE context of an account (object 21, TS-Core 1.1 Appendix E.9; RFC 8613 §3.2), its
 * bytes in hex. Tandem writes it to the device; it does not speak OSCORE itself.
 */
const oscoreSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['masterSecret', 'senderId', 'recipientId'],
  properties: {
    masterSecret: hex('at least 16 bytes; never returned by the API'),
    senderId: hex("the client's Sender ID, at most the AEAD nonce length - 6 bytes; may be empty"),
    recipientId: hex("the client's Recipient ID (the server's Sender ID)"),
    aeadAlgorithm: {
      type: 'integer',
      description: 'COSE AEAD algorithm (RFC 8152 §10); default 10, AES-CCM-16-64-128',
    },
    hmacAlgorithm: {
      type: 'integer',
      description: 'HKDF HMAC: 4-7 (RFC 8152 Table 7) or -10/-11 (HKDF SHA-256/512)',
    },
    masterSalt: hex('default empty'),
    idContext: hex('optional'),
  },
} as const;

const accountSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['shortServerId', 'uri', 'securityMode', 'lifetime'],
  properties: {
    shortServerId: { type: 'integer', minimum: 1, maximum: 65534 },
    uri: { type: 'string', description: 'LwM2M Server URI, coap:// or coaps://' },
    securityMode: { type: 'string', enum: ['psk', 'rpk', 'x509', 'nosec'] },
    publicKeyOrIdentity: {
      type: 'string',
      pattern: BASE64,
      description: 'base64: the PSK identity bytes, or the client public key or certificate',
    },
    serverPublicKey: { type: 'string', pattern: BASE64, description: 'base64' },
    secretKey: {
      type: 'string',
      pattern: BASE64,
      description: 'base64; never returned by the API',
    },
    lifetime: { type: 'integer', minimum: 1 },
    binding: { type: 'string' },
    notificationStoring: { type: 'boolean' },
    oscore: oscoreSchema,
  },
} as const;

const { masterSecret: _secret, ...shownOscoreProperties } = oscoreSchema.properties;

/** An OSCORE context as the API shows it: the Master Secret replaced by `masterSecretSet`. */
const shownOscoreSchema = {
  ...oscoreSchema,
  required: ['senderId', 'recipientId', 'masterSecretSet'],
  properties: { ...shownOscoreProperties, masterSecretSet: { type: 'boolean' } },
} as const;

const configSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['servers'],
  properties: {
    deleteFirst: { type: 'boolean', description: 'Bootstrap-Delete of / first (default true)' },
    servers: { type: 'array', items: accountSchema },
  },
} as const;

const entrySchema = {
  type: 'object',
  required: ['key', 'config'],
  properties: {
    key: { type: 'string', description: 'an endpoint name, or a pattern with *' },
    config: {
      ...configSchema,
      properties: {
        ...configSchema.properties,
        servers: {
          type: 'array',
          items: {
            ...accountSchema,
            properties: {
              ...accountSchema.properties,
              secretKeySet: { type: 'boolean' },
              oscore: shownOscoreSchema,
            },
          },
        },
      },
    },
  },
} as const;

/**
 * A stored configuration as the API shows it: every secret key replaced by `secretKeySet`, every
 * OSCORE Master Secret by `masterSecretSet`.
 */
function shown(key: string, config: BootstrapConfig) {
  const json = bootstrapConfigToJson(config) as { servers: Record<string, unknown>[] };
  for (const server of json.servers) {
    server.secretKeySet = server.secretKey !== undefined;
    delete server.secretKey;
    const oscore = server.oscore as Record<string, unknown> | undefined;
    if (oscore) {
      oscore.masterSecretSet = oscore.masterSecret !== undefined;
      delete oscore.masterSecret;
    }
  }
  return { key, config: json };
}

const stepSchema = {
  type: 'object',
  required: ['operation', 'path'],
  properties: {
    operation: { type: 'string', enum: ['discover', 'read', 'delete', 'write', 'finish'] },
    path: { type: 'string' },
  },
} as const;

const sessionSchema = {
  type: 'object',
  required: ['endpoint', 'listener', 'state', 'startedAt', 'reads'],
  properties: {
    endpoint: { type: 'string' },
    listener: { type: 'string', enum: ['bootstrap', 'bootstrapDtls'] },
    state: { type: 'string', enum: ['running', 'finished', 'failed'] },
    startedAt: { type: 'integer', description: 'ms since the epoch' },
    endedAt: { type: 'integer' },
    lwm2mVersion: {
      type: 'string',
      description: 'as the client announced it in Bootstrap-Discover',
    },
    steps: { type: 'array', items: stepSchema },
    reads: {
      type: 'array',
      description: 'Bootstrap-Reads of the Server and Access Control objects (LwM2M 1.1 and later)',
      items: {
        type: 'object',
        required: ['path', 'phase', 'code'],
        properties: {
          path: { type: 'string' },
          phase: { type: 'string', enum: ['before', 'after'] },
          code: { type: 'string', description: 'the client answer, e.g. 2.05' },
          content: {
            type: 'object',
            additionalProperties: true,
            description: 'the object read, in the node JSON form',
          },
        },
      },
    },
    accounts: {
      type: 'array',
      items: {
        type: 'object',
        required: ['shortServerId', 'securityInstance', 'serverInstance'],
        properties: {
          shortServerId: { type: 'integer' },
          securityInstance: { type: 'integer' },
          serverInstance: { type: 'integer' },
          oscoreInstance: { type: 'integer' },
        },
      },
    },
    failure: {
      type: 'object',
      required: ['reason'],
      properties: { step: stepSchema, code: { type: 'string' }, reason: { type: 'string' } },
    },
  },
} as const;

const keyParams = {
  type: 'object',
  required: ['key'],
  properties: { key: { type: 'string', minLength: 1, maxLength: 200 } },
} as const;

/**
 * LwM2M bootstrap configurations (admin: they hold device keys) and server-initiated bootstrap
 * (operator). A configuration applies to the endpoint named by its key, or to every endpoint
 * its `*` pattern matches (the longest pattern wins).
 */
export const bootstrapRoutes: FastifyPluginAsync<{ bootstrap: BootstrapApi }> = async (
  app,
  opts,
) => {
  const { configs } = opts.bootstrap;

  app.get(
    '/api/bootstrap/configs',
    {
      config: { access: 'admin' },
      schema: {
        summary: 'List bootstrap configurations (secret keys are never shown)',
        tags: ['bootstrap'],
        security: BEARER,
        response: {
          200: {
            type: 'object',
            required: ['configs'],
            properties: { configs: { type: 'array', items: entrySchema } },
          },
          401: apiErrorSchema,
          403: apiErrorSchema,
        },
      },
    },
    async () => ({ configs: (await configs.list()).map((e) => shown(e.key, e.config)) }),
  );

  app.put<{ Params: { key: string }; Body: unknown }>(
    '/api/bootstrap/configs/:key',
    {
      config: { access: 'admin' },
      schema: {
        summary: 'Set the bootstrap configuration of an endpoint name or pattern',
        tags: ['bootstrap'],
        security: BEARER,
        params: keyParams,
        body: configSchema,
        response: {
          200: entrySchema,
          400: apiErrorSchema,
          401: apiErrorSchema,
          403: apiErrorSchema,
        },
      },
    },
    async (request) => {
      let config: BootstrapConfig;
      try {
        config = bootstrapConfigFromJson(request.body);
      } catch (err) {
        if (err instanceof ConfigValidationError) {
          throw new ApiError('TANDEM_ERR_VALIDATION', err.message, 'servers');
        }
        throw err;
      }
      await configs.put(request.params.key, config);
      return shown(request.params.key, config);
    },
  );

  app.delete<{ Params: { key: string } }>(
    '/api/bootstrap/configs/:key',
    {
      config: { access: 'admin' },
      schema: {
        summary: 'Remove a bootstrap configuration',
        tags: ['bootstrap'],
        security: BEARER,
        params: keyParams,
        response: {
          204: { type: 'null' },
          401: apiErrorSchema,
          403: apiErrorSchema,
          404: apiErrorSchema,
        },
      },
    },
    async (request, reply) => {
      if (!(await configs.delete(request.params.key))) {
        throw new ApiError(
          'TANDEM_ERR_BOOTSTRAP_CONFIG_NOT_FOUND',
          `no bootstrap configuration ${request.params.key}`,
        );
      }
      return reply.code(204).send();
    },
  );

  app.get<{ Params: { endpoint: string } }>(
    '/api/bootstrap/sessions/:endpoint',
    {
      config: { access: 'operator' },
      schema: {
        summary: 'The last bootstrap of an endpoint: its steps, what it read and its outcome',
        tags: ['bootstrap'],
        security: BEARER,
        params: {
          type: 'object',
          required: ['endpoint'],
          properties: { endpoint: { type: 'string', minLength: 1, maxLength: 255 } },
        },
        response: {
          200: sessionSchema,
          401: apiErrorSchema,
          403: apiErrorSchema,
          404: apiErrorSchema,
        },
      },
    },
    async (request) => {
      const session = opts.bootstrap.session(request.params.endpoint);
      if (!session) {
        throw new ApiError(
          'TANDEM_ERR_BOOTSTRAP_SESSION_NOT_FOUND',
          `${request.params.endpoint} has not bootstrapped since the server started`,
        );
      }
      return session;
    },
  );

  app.post<{ Params: { id: string } }>(
    '/api/devices/:id/bootstrap',
    {
      config: { access: 'operator' },
      schema: {
        summary: 'Server-initiated bootstrap: execute Bootstrap-Request Trigger (/1/x/9)',
        tags: ['bootstrap'],
        security: BEARER,
        params: {
          type: 'object',
          required: ['id'],
          properties: { id: { type: 'string' } },
        },
        response: {
          200: {
            type: 'object',
            required: ['coapCode'],
            properties: {
              coapCode: { type: 'string', description: 'the device answer, e.g. 2.04' },
            },
          },
          401: apiErrorSchema,
          403: apiErrorSchema,
          404: apiErrorSchema,
        },
      },
    },
    async (request) => {
      const answer = await opts.bootstrap.requestBootstrap(request.params.id);
      if (!answer) {
        throw new ApiError(
          'TANDEM_ERR_DEVICE_NOT_FOUND',
          `${request.params.id} is not registered over LwM2M (or has no Server object instance)`,
        );
      }
      return { coapCode: `${answer.code >> 5}.${String(answer.code & 31).padStart(2, '0')}` };
    },
  );
};
