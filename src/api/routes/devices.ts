import type { FastifyPluginAsync } from 'fastify';
import {
  type DevicePatchInput,
  type DeviceRegistry,
  MAX_PAGE,
  type NewDeviceInput,
} from '../../hub/device-registry.js';
import type { DeviceProtocol } from '../../store/ports.js';
import { BEARER } from '../auth.js';
import { ApiError, apiErrorSchema } from '../errors.js';
import {
  deviceIdParams,
  deviceJson,
  devicePatchSchema,
  deviceSchema,
  newDeviceSchema,
} from './device-schemas.js';

const errors = (...codes: number[]) =>
  Object.fromEntries(codes.map((c) => [c, apiErrorSchema])) as Record<
    number,
    typeof apiErrorSchema
  >;

/** The device registry: list, create, show, change and delete devices. */
export const deviceRoutes: FastifyPluginAsync<{ devices: DeviceRegistry }> = async (app, opts) => {
  const registry = opts.devices;

  app.get<{
    Querystring: {
      protocol?: DeviceProtocol;
      tag?: string;
      online?: boolean;
      after?: string;
      limit?: number;
    };
  }>(
    '/api/devices',
    {
      config: { access: 'read-only' },
      schema: {
        summary: 'List devices, in id order, a page at a time',
        tags: ['devices'],
        security: BEARER,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            protocol: { type: 'string', enum: ['lwm2m', 'mqtt'] },
            tag: { type: 'string', description: 'devices carrying this tag' },
            online: { type: 'boolean', description: 'connected to this server now, or not' },
            after: { type: 'string', description: 'the `next` cursor of the previous page' },
            limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 100 },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['devices', 'next'],
            properties: {
              devices: { type: 'array', items: deviceSchema },
              next: {
                type: ['string', 'null'],
                description: 'pass as `after` for the next page; null on the last page',
              },
            },
          },
          ...errors(400, 401, 403),
        },
      },
    },
    async (request) => {
      const page = await registry.list(request.query);
      return { devices: page.devices.map(deviceJson), next: page.next };
    },
  );

  app.post<{ Body: NewDeviceInput }>(
    '/api/devices',
    {
      config: { access: 'operator' },
      schema: {
        summary: 'Create a device with its credentials',
        tags: ['devices'],
        security: BEARER,
        body: newDeviceSchema,
        response: { 201: deviceSchema, ...errors(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      const device = await registry.create(request.body);
      request.log.info({ deviceId: device.id, by: request.apiToken?.id }, 'device created');
      return reply
        .code(201)
        .header('location', `/api/devices/${encodeURIComponent(device.id)}`)
        .send(deviceJson(device));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/devices/:id',
    {
      config: { access: 'read-only' },
      schema: {
        summary: 'One device',
        tags: ['devices'],
        security: BEARER,
        params: deviceIdParams,
        response: { 200: deviceSchema, ...errors(401, 403, 404) },
      },
    },
    async (request) => {
      const device = await registry.get(request.params.id);
      if (!device) {
        throw new ApiError('TANDEM_ERR_DEVICE_NOT_FOUND', `no device ${request.params.id}`);
      }
      return deviceJson(device);
    },
  );

  app.patch<{ Params: { id: string }; Body: DevicePatchInput }>(
    '/api/devices/:id',
    {
      config: { access: 'operator' },
      schema: {
        summary: 'Change tags, metadata or credentials; replaced credentials stop working at once',
        tags: ['devices'],
        security: BEARER,
        params: deviceIdParams,
        body: devicePatchSchema,
        response: { 200: deviceSchema, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const device = await registry.patch(request.params.id, request.body);
      request.log.info({ deviceId: device.id, by: request.apiToken?.id }, 'device updated');
      return deviceJson(device);
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/api/devices/:id',
    {
      config: { access: 'operator' },
      schema: {
        summary: 'Delete a device: its credentials stop working and its connections are closed',
        tags: ['devices'],
        security: BEARER,
        params: deviceIdParams,
        response: { 204: { type: 'null' }, ...errors(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await registry.delete(request.params.id);
      request.log.info({ deviceId: request.params.id, by: request.apiToken?.id }, 'device deleted');
      return reply.code(204).send();
    },
  );
};
