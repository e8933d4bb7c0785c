/**
 * Queued commands (issue 6): a command for a device that may be asleep or offline is accepted
 * at once (202) with a time-to-live, then goes when the device can take it. Its state, and in
 * the end the device's answer, are read back here; a command still queued can be cancelled.
 *
 * | method and path                         | what                                     | role       |
 * | --------------------------------------- | ---------------------------------------- | ---------- |
 * | POST   /api/devices/{id}/commands        | queue a command (the bridge's JSON)      | the op's   |
 * | GET    /api/devices/{id}/commands        | the device's commands, newest first      | read-only  |
 * | GET    /api/devices/{id}/commands/{cid}  | one command                              | read-only  |
 * | DELETE /api/devices/{id}/commands/{cid}  | cancel a queued command                  | operator   |
 */
import type { FastifyPluginAsync } from 'fastify';
import { roleAllows } from '../../hub/api-tokens.js';
import { DeviceOperationError } from '../../hub/commands/errors.js';
import { accessOf, OPERATIONS, type OperationName } from '../../hub/commands/operations.js';
import {
  type CommandQueue,
  commandJson,
  DEFAULT_COMMAND_TTL_MS,
  MAX_COMMAND_TTL_MS,
} from '../../hub/commands/queue.js';
import { BEARER } from '../auth.js';
import { deviceIdParams } from './device-schemas.js';
import { deviceOperationErrorSchema, errorResponses } from './lwm2m-schemas.js';

const STATUSES = ['queued', 'sent', 'succeeded', 'failed', 'expired', 'cancelled'];

const commandSchema = {
  type: 'object',
  required: ['id', 'deviceId', 'command', 'status', 'createdAt', 'updatedAt', 'expiresAt'],
  properties: {
    id: { type: 'string' },
    deviceId: { type: 'string' },
    command: {
      type: 'object',
      additionalProperties: true,
      description: 'the command as submitted (docs/application-topics.md)',
    },
    status: { type: 'string', enum: STATUSES },
    by: { type: 'string', description: 'the API token that queued it' },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
    expiresAt: {
      type: 'string',
      format: 'date-time',
      description: 'a command that has not left for the device by then expires',
    },
    result: {
      type: 'object',
      additionalProperties: true,
      description: 'succeeded: the HTTP status and body the live operation would have answered',
    },
    error: {
      type: 'object',
      additionalProperties: true,
      description: 'failed, expired or cancelled: the error, with the CoAP code of the device',
    },
  },
} as const;

const commandIdParams = {
  type: 'object',
  required: ['id', 'cid'],
  properties: { ...deviceIdParams.properties, cid: { type: 'string', maxLength: 64 } },
} as const;

export const commandRoutes: FastifyPluginAsync<{ queue: CommandQueue }> = async (app, opts) => {
  const { queue } = opts;

  app.post<{ Params: { id: string }; Body: Record<string, unknown> & { ttl?: number } }>(
    '/api/devices/:id/commands',
    {
      // Reads may be queued with a read-only token; the handler asks the operation's role.
      config: { access: 'read-only' },
      schema: {
        summary: 'Queue a command for a device that may be asleep or offline',
        description:
          'The body is a command as on the MQTT topic tandem/commands/{id} (docs/application-topics.md), plus `ttl`: how long it may wait for the device. The answer is 202 with the queued command; its result is read back with GET, or followed on /api/events.',
        tags: ['commands'],
        security: BEARER,
        params: deviceIdParams,
        body: {
          type: 'object',
          required: ['op'],
          additionalProperties: true,
          properties: {
            op: { type: 'string', enum: OPERATIONS },
            ttl: {
              type: 'integer',
              minimum: 1,
              maximum: MAX_COMMAND_TTL_MS / 1000,
              default: DEFAULT_COMMAND_TTL_MS / 1000,
              description: 'seconds the command may wait for the device before it is sent',
            },
          },
        },
        response: { 202: commandSchema, ...errorResponses, 429: deviceOperationErrorSchema },
      },
    },
    async (request, reply) => {
      const { ttl, ...document } = request.body;
      const needed = accessOf(document.op as OperationName);
      const token = request.apiToken;
      if (!token && needed !== 'read-only') {
        throw new DeviceOperationError('TANDEM_ERR_UNAUTHORIZED', `${document.op} needs a token`);
      }
      if (token && !roleAllows(token.role, needed)) {
        throw new DeviceOperationError(
          'TANDEM_ERR_FORBIDDEN',
          `a ${token.role} token may not queue ${document.op}; it needs ${needed}`,
        );
      }
      const record = await queue.submit(request.params.id, document, {
        ...(ttl !== undefined ? { ttlMs: ttl * 1000 } : {}),
        ...(token ? { by: token.id } : {}),
      });
      reply.header(
        'location',
        `/api/devices/${encodeURIComponent(record.deviceId)}/commands/${record.id}`,
      );
      return reply.code(202).send(commandJson(record));
    },
  );

  app.get<{ Params: { id: string }; Querystring: { limit: number } }>(
    '/api/devices/:id/commands',
    {
      config: { access: 'read-only' },
      schema: {
        summary: "The device's queued and recent commands, newest first",
        tags: ['commands'],
        security: BEARER,
        params: deviceIdParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
        },
        response: {
          200: {
            type: 'object',
            required: ['commands'],
            properties: { commands: { type: 'array', items: commandSchema } },
          },
          ...errorResponses,
        },
      },
    },
    async (request) => ({
      commands: (await queue.list(request.params.id, request.query.limit)).map(commandJson),
    }),
  );

  app.get<{ Params: { id: string; cid: string } }>(
    '/api/devices/:id/commands/:cid',
    {
      config: { access: 'read-only' },
      schema: {
        summary: 'One queued command: its state, and the result once the device answered',
        tags: ['commands'],
        security: BEARER,
        params: commandIdParams,
        response: { 200: commandSchema, ...errorResponses },
      },
    },
    async (request) => commandJson(await queue.get(request.params.id, request.params.cid)),
  );

  app.delete<{ Params: { id: string; cid: string } }>(
    '/api/devices/:id/commands/:cid',
    {
      config: { access: 'operator' },
      schema: {
        summary: 'Cancel a queued command (409 once it has left for the device)',
        tags: ['commands'],
        security: BEARER,
        params: commandIdParams,
        response: { 200: commandSchema, ...errorResponses, 409: deviceOperationErrorSchema },
      },
    },
    async (request) => {
      const record = await queue.cancel(
        request.params.id,
        request.params.cid,
        request.apiToken?.id,
      );
      request.log.info(
        { deviceId: record.deviceId, command: record.id, by: request.apiToken?.id },
        'queued command cancelled',
      );
      return commandJson(record);
    },
  );
};
