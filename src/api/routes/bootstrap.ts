import type { FastifyPluginAsync } from 'fastify';
import {
  type BootstrapConfig,
  type BootstrapConfigStore,
  bootstrapConfigFromJson,
  bootstrapConfigToJson,
  ConfigValidationError,
} from '../../lwm2m/bootstrap/config.js';
import { BEARER } from '../auth.js';
import { ApiError, apiErrorSchema } from '../errors.js';

export interface BootstrapApi {
  configs: BootstrapConfigStore;
  /** Server-initiated bootstrap; undefined when the device is not registered. */
  requestBootstrap(endpoint: string): Promise<{ code: number } | undefined>;
}

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
      description: 'base64: the PSK identity bytes, or the client public key or certificate',
    },
    serverPublicKey: { type: 'string', description: 'base64' },
    secretKey: { type: 'string', description: 'base64; never returned by the API' },
    lifetime: { type: 'integer', minimum: 1 },
    binding: { type: 'string' },
    notificationStoring: { type: 'boolean' },
  },
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
            properties: { ...accountSchema.properties, secretKeySet: { type: 'boolean' } },
          },
        },
      },
    },
  },
} as const;

/** A stored configuration as the API shows it: every secret key replaced by `secretKeySet`. */
function shown(key: string, config: BootstrapConfig) {
  const json = bootstrapConfigToJson(config) as { servers: Record<string, unknown>[] };
  for (const server of json.servers) {
    server.secretKeySet = server.secretKey !== undefined;
    delete server.secretKey;
  }
  return { key, config: json };
}

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
